"""Agents reach the studio over MCP: `app.py --mcp` serves four tools, and a real MCP client calls one end to end."""

from __future__ import annotations

import asyncio
import base64
import io

import numpy as np
import pytest
from PIL import Image

from studio.tools import TOOL_NAMES
from tests.browser import served_studio
from tests.conftest import EXAMPLES, free_loopback_port

pytest.importorskip("mcp")


async def _session(url: str, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


@pytest.fixture(scope="module")
def studio_url():
    with served_studio(free_loopback_port(), args=("--mcp",)) as url:
        yield url


def test_the_tools_are_listed_with_typed_descriptions(studio_url):
    tools = asyncio.run(_session(studio_url, lambda session: session.list_tools())).tools
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == set(TOOL_NAMES)  # the tabs' UI events are not offered as tools
    edit = by_name["edit_expression"]
    assert edit.description.startswith("Give the person in a photo another facial expression")
    properties = edit.inputSchema["properties"]
    assert properties["expression"]["enum"] == ["joy", "sadness", "anger", "surprise", "fear", "disgust", "neutral"]
    assert "from 0 (none) to 1 (full)" in properties["intensity"]["description"]
    assert edit.inputSchema["required"] == ["photo"]
    assert "full_sillytavern_set" in by_name["expression_sheet"].inputSchema["properties"]
    assert "video" in by_name["capture_motion"].inputSchema["properties"]
    assert "message" in by_name["chat_as_character"].inputSchema["required"]


def test_an_agent_edits_an_expression_end_to_end(studio_url):
    photo = EXAMPLES / "faces" / "london_001_neutral.jpg"
    uri = "data:image/jpeg;base64," + base64.b64encode(photo.read_bytes()).decode()
    arguments = {"photo": uri, "expression": "surprise", "intensity": 0.9}
    result = asyncio.run(_session(studio_url, lambda session: session.call_tool("edit_expression", arguments)))
    assert not result.isError, result.content
    (image,) = [item for item in result.content if item.type == "image"]
    edited = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.data))).convert("RGB"), int)
    source = np.asarray(Image.open(photo).convert("RGB"), int)
    assert edited.shape == source.shape
    assert (np.abs(edited - source).max(axis=2) > 20).sum() > 500  # the face changed
    assert (edited[:40] == source[:40]).all()  # the top of the photo (hair, background) did not
