"""Two aiortc peers in one process: server streams, client gets frames that follow commands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from aiortc import VideoStreamTrack
from av import VideoFrame
from test_server_fakes import FakeEngine

from server.app import FACECAST_KEY, create_app
from server.config import ServerConfig
from server.webrtc.client import AvatarClient

pytestmark = pytest.mark.timeout(120)


class PhotoWebcam(VideoStreamTrack):
    """A fake webcam sending one photo with slight jitter at 30 fps."""

    def __init__(self, photo: np.ndarray) -> None:
        super().__init__()
        self.photo = photo
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.count += 1
        image = np.roll(self.photo, self.count % 3, axis=1)
        frame = VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@contextlib.asynccontextmanager
async def running_server(engine: Any, **options: Any) -> AsyncIterator[TestServer]:
    config = ServerConfig(**{"size": 128, "fps": 30.0, **options})
    server = TestServer(create_app(config, engine, warmup=False), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def _url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


def test_receiver_gets_frames_that_change_after_instruct(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        async with running_server(engine) as server:
            client = AvatarClient(_url(server), webcam=PhotoWebcam(astronaut[:480, :]))
            await client.connect()
            try:
                status = await client.wait_event("status", state="no_avatar")
                assert status["session"] == client.session_id
                placeholder = await client.next_frame()
                assert placeholder.image.shape == (128, 128, 3)

                client.send({"type": "capture", "seconds": 0.6, "id": "c1"})
                done = await client.wait_event("done", command="capture", timeout=15)
                assert done["id"] == "c1" and done["result"]["frames"] >= 2
                assert "sharpest" in done["result"]["reason"]
                assert done["result"]["thumbnail"].startswith("data:image/jpeg;base64,")
                await asyncio.sleep(0.3)
                before = (await client.next_frame()).image.astype(np.int16)
                # The avatar replaced the placeholder.
                assert np.abs(before - placeholder.image.astype(np.int16)).mean() > 10

                client.send(
                    {
                        "type": "instruct",
                        "text": "Turn this face from disgust to happiness",
                        "id": "i1",
                    }
                )
                plan = await client.wait_event("plan", id="i1")
                assert plan["understood"] == ["disgust", "happiness"]
                await client.wait_event("progress", id="i1")
                await client.wait_event("done", command="instruct", id="i1", timeout=10)
                after = (await client.next_frame()).image.astype(np.int16)
                assert np.abs(after - before).mean() > 2.0
                # Idle motion keeps the avatar alive after the instruction: frames keep changing.
                later = (await client.next_frame()).image.astype(np.int16)
                assert client.frames_received > 20
                assert later.shape == after.shape
            finally:
                await client.close()
            # The peer's session is cleaned up when the peer leaves.
            facecast = server.app[FACECAST_KEY]
            for _ in range(50):
                if not facecast.sessions and not facecast.peers:
                    break
                await asyncio.sleep(0.1)
            assert not facecast.sessions and not facecast.peers

    asyncio.run(scenario())


def test_new_instruction_mid_transition_continues_without_jump(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        engine = FakeEngine(segment_seconds=1.0)
        async with running_server(engine, idle_motion=False) as server:
            client = AvatarClient(_url(server), webcam=PhotoWebcam(astronaut[:480, :]))
            await client.connect()
            try:
                client.send({"type": "capture", "seconds": 0.4})
                await client.wait_event("done", command="capture", timeout=15)
                session = next(iter(server.app[FACECAST_KEY].sessions.values()))
                client.send({"type": "instruct", "text": "anger", "id": "a"})
                await client.wait_event("plan", id="a")
                await asyncio.sleep(0.5)
                mid = session.current_state()
                client.send({"type": "instruct", "text": "smile", "id": "b"})
                await client.wait_event("plan", id="b")
                # The new timeline starts from the face as it was, not from rest.
                start = session.current_state()
                assert np.abs(start.expression - mid.expression).max() < 0.25
                assert start.expression.sum() > 0.5
                client.send({"type": "cancel", "id": "x"})
                done = await client.wait_event("done", command="cancel", id="x")
                assert done["result"]["easing_to_rest"] is True
            finally:
                await client.close()

    asyncio.run(scenario())


def test_server_full_is_refused_politely_and_broadcast_is_shared(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        async with running_server(FakeEngine(), max_sessions=1) as server:
            first = AvatarClient(_url(server))
            await first.connect()
            second = AvatarClient(_url(server))
            with pytest.raises(ConnectionError, match="server_full"):
                await second.connect()
            viewer_a = AvatarClient(_url(server), session="broadcast")
            viewer_b = AvatarClient(_url(server), session="broadcast")
            await viewer_a.connect()
            await viewer_b.connect()
            assert viewer_a.session_id == viewer_b.session_id == "broadcast"
            viewer_a.send({"type": "instruct", "text": "smile", "id": "k"})
            for viewer in (viewer_a, viewer_b):  # both controllers hear the answer
                error = await viewer.wait_event("error", id="k")
                assert error["code"] == "no_avatar"
            await viewer_b.next_frame()
            for client in (first, viewer_a, viewer_b):
                await client.close()

    asyncio.run(scenario())


def test_offer_that_never_connects_is_reaped() -> None:
    async def scenario() -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        async with running_server(FakeEngine(), connect_timeout=0.5, max_sessions=1) as server:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTransceiver("video", direction="recvonly")
            pc.createDataChannel("facecast")
            await pc.setLocalDescription(await pc.createOffer())
            import aiohttp

            async with aiohttp.ClientSession() as http:
                body = {"sdp": pc.localDescription.sdp, "type": "offer"}
                async with http.post(f"{_url(server)}/offer", json=body) as response:
                    assert response.status == 200
            await pc.close()  # the answer is never applied: the peer never connects
            facecast = server.app[FACECAST_KEY]
            assert facecast.peer_sessions() == 1
            for _ in range(40):
                await asyncio.sleep(0.1)
                if not facecast.peers:
                    break
            assert not facecast.peers and facecast.peer_sessions() == 0
            client = AvatarClient(_url(server))  # the slot is free again
            await client.connect()
            await client.close()

    asyncio.run(scenario())
