"""Facecast server: aiohttp + aiortc streaming of instruction-driven avatars.

Modules: :mod:`server.protocol` (the message vocabulary), :mod:`server.session` (one avatar
stream), :mod:`server.engine` (the only door to the engines), :mod:`server.app` (HTTP, WebRTC
signaling, websocket), :mod:`server.webrtc` (transport), :mod:`server.virtual_camera`,
:mod:`server.ws_client` (the scripting client), :mod:`server.vtuber` (VMC and iFacialMocap
outputs for VTuber apps), :mod:`server.cli` (the ``facecast`` command).
"""

__all__: list[str] = []
