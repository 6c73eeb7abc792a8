"""Streamlit's own wire protocol, spoken by a test: BackMsg protobufs over the /_stcore/stream websocket of
a real `streamlit run`, as the browser sends them (and as anyone can, without a browser or a sign-in).

    async with StreamlitSocket.connect(url) as app:
        await app.rerun("flow=signup&user=alice")   # runs the script, waits until it has finished
        await app.clear_cache()                      # the "Clear caches" message (no sign-in needed)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class StreamlitSocket:
    socket: websockets.ClientConnection
    texts: list[str] = field(default_factory=list)  # text of the markdown/alert elements the last run drew

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[StreamlitSocket]:
        ws_url = url.replace("http://", "ws://", 1) + "/_stcore/stream"
        async with websockets.connect(
            ws_url,
            subprotocols=[websockets.Subprotocol("streamlit")],
            additional_headers=dict(headers or {}),
            max_size=None,
            open_timeout=30,
        ) as socket:
            yield cls(socket)

    async def send(self, message: BackMsg) -> None:
        await self.socket.send(message.SerializeToString())

    async def rerun(self, query_string: str = "", timeout: float = 60) -> list[str]:
        """Ask for a run of the script (as a page load does) and wait until it has finished; return the
        text it drew (markdown, titles, alerts)."""
        message = BackMsg()
        message.rerun_script.query_string = query_string
        await self.send(message)
        return await self.until_finished(timeout)

    async def clear_cache(self) -> None:
        message = BackMsg()
        message.clear_cache = True
        await self.send(message)

    async def until_finished(self, timeout: float = 60) -> list[str]:
        self.texts = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the script did not finish within {timeout} s; it drew {self.texts}")
            raw = await asyncio.wait_for(self.socket.recv(), left)
            forward = ForwardMsg()
            forward.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                which = element.WhichOneof("type")
                if which in {"markdown", "heading"}:
                    self.texts.append(getattr(element, which).body)
                elif which == "alert":
                    self.texts.append(element.alert.body)
            elif kind == "script_finished":
                if forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return self.texts
