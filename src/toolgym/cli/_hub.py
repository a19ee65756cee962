"""``--push-to-hub REPO_ID``, shared by the commands that write something worth publishing (``build``,
``train trl``): the option, the checks made before any work starts (a repository id, a token, the network),
and the push at the end (:mod:`toolgym.publish`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import console, fail

PushOpt = Annotated[str | None, typer.Option(
    "--push-to-hub", metavar="REPO_ID", help="Upload the result to this Hugging Face Hub repository (owner/name) "
    "with its card; needs a token with write access (`hf auth login` or HF_TOKEN) and the network.")]
PrivateOpt = Annotated[bool, typer.Option("--hub-private", help="With --push-to-hub: create the repository as "
                                                                 "private.")]


def check_push(repo_id: str | None) -> None:
    """Before any work: a push that cannot happen (a bad id, offline, no token, no network) is a clean error
    now rather than after hours of work."""
    if repo_id is None:
        return
    from ..publish import check_pushable

    try:
        check_pushable(repo_id)
    except ConfigError as exc:
        fail(str(exc))


def push_upload(upload, private: bool) -> None:
    """Push ``upload`` (:class:`toolgym.publish.Upload`) and say where it went; a clean error (exit 2) that
    names the fix and where the files stay if it cannot be pushed."""
    from ..publish import push

    try:
        with console.status(f"pushing {len(upload.files())} file(s) to {upload.repo_id} on the Hugging Face Hub"):
            url = push(upload, private=private)
    except ConfigError as exc:
        fail(str(exc))
    console.print(f"pushed to the Hub: [bold]{url}[/]")
