"""The kernel manager workers use: IPC sockets instead of TCP on loopback.

Kernels talk to the worker over local Unix sockets, so nothing listens on a network
port (and ipykernel does not print its "running over TCP without encryption" warning).
The socket files live in a private temporary folder removed with the kernel.
"""

from __future__ import annotations

import os
import tempfile

from jupyter_client.manager import AsyncKernelManager


class IPCKernelManager(AsyncKernelManager):
    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        self._socket_dir = tempfile.mkdtemp(prefix="cyclebook-kernel-")
        self.ip = os.path.join(self._socket_dir, "kernel")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            import shutil

            shutil.rmtree(self._socket_dir, ignore_errors=True)
