"""The kernel manager workers use: IPC sockets instead of TCP on loopback, warm kernels.

Kernels talk to the worker over local Unix sockets, so nothing listens on a network
port (and ipykernel does not print its "running over TCP without encryption" warning).
The socket files live in a private temporary folder removed with the kernel.

When the run has a zygote (see :mod:`cyclebook.zygote`), the kernel is forked from it
instead of started as a new Python; otherwise it starts the usual way.
"""

from __future__ import annotations

import os
import queue
import tempfile
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import DottedObjectName, Type


class QuickReadyClient(AsyncKernelClient):
    """Ready as soon as the kernel answers ``kernel_info`` and IOPub is connected.

    jupyter_client then waits for 0.2 s of IOPub silence before every run; messages that
    arrive later are ignored anyway by nbclient (it reads only replies to its own
    requests), so the wait is cut to a short drain.
    """

    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        # The channels connect as soon as the kernel is launched, usually before the
        # kernel has bound its sockets; ZeroMQ then retries after 100 ms by default.
        # A forked kernel binds within milliseconds: retry every 5 ms instead.
        import zmq

        self.context.setsockopt(zmq.RECONNECT_IVL, 5)
        super().start_channels(*args, **kwargs)

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        import time

        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=0.5)
            except queue.Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                # IOPub connected? (the kernel_info request's busy/idle status). Until
                # the subscription is up, the kernel's status messages are lost: ask again
                # soon rather than wait 0.2 s each time.
                try:
                    await self.iopub_channel.get_msg(timeout=0.02)
                except queue.Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while True:  # drain what is already there
            try:
                await self.iopub_channel.get_msg(timeout=0.01)
            except queue.Empty:
                break

    wait_for_ready = _async_wait_for_ready


SOCKET_DIR_PREFIX = "cyclebook-kernel-"
_swept = False


def socket_dir() -> str:
    """A private folder for one kernel's sockets, named after the process that owns it.

    A worker killed outright (a closed laptop, SIGKILL) cannot remove its folders; the
    next process to start a kernel removes those whose owner is gone (once per process).
    """
    global _swept
    if not _swept:
        _swept = True
        sweep_socket_dirs()
    from cyclebook.paths import owned_dir

    return owned_dir(SOCKET_DIR_PREFIX)


def sweep_socket_dirs(root: str | None = None) -> int:
    """Remove the socket folders of processes that no longer exist; returns how many."""
    from cyclebook.paths import sweep_owned_dirs

    return sweep_owned_dirs(root or tempfile.gettempdir(), SOCKET_DIR_PREFIX)


class IPCKernelManager(AsyncKernelManager):
    client_class = DottedObjectName("cyclebook.kernel.QuickReadyClient")
    client_factory = Type(klass=AsyncKernelClient, default_value=QuickReadyClient)

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        self._socket_dir = socket_dir()
        self.ip = os.path.join(self._socket_dir, "kernel")
        # the connection file (the kernel's signing key) beside its sockets: in the
        # folder removed with the kernel, or swept when its owner was killed, not a
        # /tmp/tmpXXXX.json left behind by every worker that died
        self.connection_file = os.path.join(self._socket_dir, "connection.json")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        from cyclebook import zygote

        provisioner = self.provisioner
        if type(provisioner) is LocalProvisioner:
            forked = zygote.spawn(kernel_cmd, kw.get("env"), kw.get("cwd"))
            if forked is not None:
                provisioner.process = forked
                provisioner.pid = forked.pid
                provisioner.pgid = None  # signals go through ``forked`` (it knows its group)
                provisioner.cwd = kw.get("cwd") or os.getcwd()
                self._reconcile_connection_info(provisioner.connection_info)
                return
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            import shutil

            shutil.rmtree(self._socket_dir, ignore_errors=True)
