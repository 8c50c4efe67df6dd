"""One module per tab; each exposes `render()` and wires UI values to one pipeline package."""
