"""Runs the backend under uvicorn, quiet at rest.

uvicorn's Server.main_loop wakes every 0.1 s (to refresh the Date header once a second and check for
shutdown): ten wake-ups a second in every idle tenant. QuietServer instead sleeps until a signal
asks it to stop; without the periodic refresh the Date header would go stale, so it is turned off
(date_header=False; HTTP/1.1 lets an origin server without a reliable clock omit it).
"""
import asyncio
import os

import uvicorn


class QuietServer(uvicorn.Server):
    async def main_loop(self) -> None:
        self._stop_requested = asyncio.Event()
        await self.on_tick(0)  # sets the default headers once
        if not self.should_exit:
            await self._stop_requested.wait()

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        stop_requested = getattr(self, "_stop_requested", None)
        if stop_requested is not None:
            stop_requested.set()


if __name__ == "__main__":
    config = uvicorn.Config(
        "app:app",
        host="0.0.0.0",
        port=int(os.environ.get("PORT", "8000")),
        date_header=False,
        server_header=False,
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
    QuietServer(config).run()
