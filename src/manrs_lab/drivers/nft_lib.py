"""nftables commands through libnftables, in a thread inside the node's namespace.

A capstone check ran `ip netns exec NS nft …` some 140 times (counting tables for spoofed and
legitimate packets, ~6 ms of CPU each for the two processes); libnftables (the library `nft`
itself is built on, Debian's libnftables1) does the same work in-process. The context is created,
used and freed inside a thread that joined the namespace (`netns_thread`), so its netlink socket
belongs to that namespace. Calls are serialised: libnftables keeps some state global.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from pathlib import Path

from manrs_lab.drivers.netns_thread import call_in_netns

NFT_CTX_OUTPUT_JSON = 1 << 4
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


@dataclass(frozen=True)
class NftResult:
    ok: bool
    output: str
    error: str


def available() -> bool:
    return _library() is not None


def _library() -> ctypes.CDLL | None:
    global _lib  # noqa: PLW0603 (loaded once)
    if _lib is None:
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            return None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        _lib = lib
    return _lib


def nft_in_netns(netns: Path, command: str, *, json: bool = False) -> NftResult:
    """`nft [-j] COMMAND` (a ruleset or a command) in the namespace at `netns`."""
    lib = _library()
    if lib is None:
        raise OSError("libnftables is not installed")

    def run() -> NftResult:
        ctx = lib.nft_ctx_new(0)
        if not ctx:
            raise OSError("nft_ctx_new failed")
        try:
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            if json:
                lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON)
            rc = lib.nft_run_cmd_from_buffer(ctx, command.encode())
            out = lib.nft_ctx_get_output_buffer(ctx) or b""
            err = lib.nft_ctx_get_error_buffer(ctx) or b""
            return NftResult(rc == 0, out.decode(errors="replace"), err.decode(errors="replace"))
        finally:
            lib.nft_ctx_free(ctx)

    with _lock:
        return call_in_netns(netns, run)
