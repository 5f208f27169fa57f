"""The official Node SDK (@knocklabs/node) against mockknock, by running tests/node/sdk_check.mjs.

Runs only where ``node`` is on PATH and a node_modules directory holding @knocklabs/node exists:
MOCKKNOCK_NODE_SDK_DIR if set, else each NODE_PATH entry, else /tmp/nodesdk/node_modules. To enable:

    mkdir -p /tmp/nodesdk && cd /tmp/nodesdk && npm install @knocklabs/node@1.35.0
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from mockknock.model import ChannelType
from mockknock.scenario import ChannelStep, Scenario, make_channel
from tests.conftest import ServerFactory

SCRIPT = Path(__file__).parent / "node" / "sdk_check.mjs"
DEFAULT_SDK_DIR = "/tmp/nodesdk/node_modules"
ENABLE_HINT = (
    "mkdir -p /tmp/nodesdk && cd /tmp/nodesdk && npm install @knocklabs/node@1.35.0, "
    "or set MOCKKNOCK_NODE_SDK_DIR to a node_modules directory that contains @knocklabs/node"
)
RECIPIENTS = 45


def find_sdk_dir() -> Path | None:
    explicit = os.environ.get("MOCKKNOCK_NODE_SDK_DIR")
    candidates = (
        [explicit]
        if explicit
        else [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p] + [DEFAULT_SDK_DIR]
    )
    for candidate in candidates:
        if (Path(candidate) / "@knocklabs" / "node" / "package.json").is_file():
            return Path(candidate)
    return None


async def test_node_sdk_against_the_mock(make_server: ServerFactory) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"node is not on PATH; install Node.js 18+ and then: {ENABLE_HINT}")
    sdk_dir = find_sdk_dir()
    if sdk_dir is None:
        pytest.skip(f"@knocklabs/node is not installed where this test looks; to enable: {ENABLE_HINT}")

    channel = make_channel("in-app", ChannelType.IN_APP_FEED, "knock", "In-app feed")
    scenario = Scenario(
        name="sdk-node", channels={"in-app": channel}, default_steps=(ChannelStep("in_app_feed_1", channel),)
    )
    server = await make_server(virtual_clock=True, scenario_obj=scenario)
    env = {
        **os.environ,
        "KNOCK_BASE_URL": server.url,
        "KNOCK_API_KEY": "sk_test_sdk_node",
        "MOCKKNOCK_NODE_SDK_DIR": str(sdk_dir),
        "SDK_CHECK_RECIPIENTS": str(RECIPIENTS),
    }
    # Run the script as a subprocess so the server keeps answering on this event loop.
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=45)
    assert process.returncode == 0, f"sdk_check.mjs failed:\n{stderr.decode()}\n{stdout.decode()}"
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["ok"] is True
    assert result["listed"] == RECIPIENTS
    assert result["pages"] == 3
    assert result["error_status"] == 422

    # What the Node SDK did is what the mock recorded.
    await server.simulation.settle()
    store = server.simulation.store
    assert result["workflow_run_id"] in store.runs
    run = store.runs[result["workflow_run_id"]]
    assert len(run.recipient_runs) == RECIPIENTS
    assert len(store.runs) == 1  # the 422 and the 401 created nothing
    assert "read" in store.messages[result["got"]].to_wire()["engagement_statuses"]
