"""The compute behind Character Studio: one module and one class per task, free of any UI.

Importing this package is cheap; each pipeline imports its heavy libraries (torch, mediapipe,
transformers) inside the module that needs them.
"""
