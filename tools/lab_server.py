"""JupyterLab as `python3 workbook.py lab` runs it: a read-only reference and a safety check.

    .venv/bin/python tools/lab_server.py [--allow-remote] [JupyterLab options]

`workbook.py lab` builds the options (see `workbook.lab_command`); start it through that
command, not by hand. Compared with plain `jupyter lab`, this launcher adds two things and
needs no package beyond JupyterLab itself (this folder is on `sys.path` because the script
runs from it; the kernels it starts never see that):

- `WorkbookContentsManager`, the files API of the server. Paths listed in
  `--WorkbookContentsManager.read_only=PATH` (the lab command lists `notebooks/`, the complete
  notebooks kept as a reference, and the start page) are reported as not writable, so
  JupyterLab greys out Save for them and offers "Save As…"; and any request that would
  change them (save, upload, rename, delete, restore a checkpoint, copy into them) is refused
  with HTTP 403 and a message that names the learner's own copy in `exercises/`.
- A check of the settings in force once JupyterLab has read every option, config file and
  environment variable, before it listens: token authentication on, XSRF protection on, and
  a loopback address (unless `--allow-remote`). Anything else stops the launch with a
  message; options are checked earlier by `workbook.py`, this catches config files too.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import lab_options
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import List, Unicode

class WorkbookContentsManager(AsyncLargeFileManager):
    """The default files API, except that the `read_only` paths can be read but never changed."""

    read_only = List(Unicode(), config=True,
                     help="Absolute paths (files or folders) that the server refuses to change.")
    learner_dir = Unicode("", config=True,
                          help="Where the learner's own copies are (named in the refusal message).")

    # -- which paths are protected
    def _protected_roots(self) -> list[str]:
        return [os.path.realpath(p) for p in self.read_only]

    def is_read_only(self, path: str) -> bool:
        """True when API path `path` (relative to the served root) is or is inside a read-only path."""
        real = os.path.realpath(self._get_os_path(path.strip("/")))
        for root in self._protected_roots():
            if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                return True
        return False

    def _refuse(self, path: str, action: str) -> None:
        if not self.is_read_only(path):
            return
        name = path.strip("/")
        mine = ""
        if self.learner_dir:
            copy = Path(self.learner_dir) / Path(name).name
            try:
                shown = copy.relative_to(Path(self.root_dir)).as_posix()
            except ValueError:
                shown = str(copy)
            folder = Path(self.learner_dir).name
            mine = (f" Your own copy to work in is {shown}." if copy.exists() else
                    f" Work in {folder}/ instead.")
            mine += f" (File > Save As… saves a copy of this one into {folder}/.)"
        raise web.HTTPError(403, f"Cannot {action} {name}: it is part of the workbook's "
                                 f"read-only reference, kept unchanged.{mine}")

    # -- reading: say "not writable" so JupyterLab disables Save
    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        model = await super().get(path, content=content, type=type, format=format,
                                  require_hash=require_hash)
        if self.read_only:
            if self.is_read_only(path):
                model["writable"] = False
            if model.get("type") == "directory" and isinstance(model.get("content"), list):
                for child in model["content"]:
                    if self.is_read_only(child["path"]):
                        child["writable"] = False
        return model

    # -- every way of changing a file
    async def save(self, model, path=""):
        self._refuse(path, "save")
        return await super().save(model, path)

    async def delete_file(self, path):
        self._refuse(path, "delete")
        return await super().delete_file(path)

    async def rename_file(self, old_path, new_path):
        self._refuse(old_path, "rename")
        self._refuse(new_path, "rename a file to")
        return await super().rename_file(old_path, new_path)

    async def copy(self, from_path, to_path=None):
        target = to_path if to_path is not None else from_path.strip("/").rpartition("/")[0]
        self._refuse(target, "copy a file into")
        return await super().copy(from_path, to_path)

    # -- checkpoints: JupyterLab lists and makes one for every file it opens. A read-only
    # file cannot change, so its one checkpoint is the file itself, and nothing (not even an
    # empty .ipynb_checkpoints/ folder) is written next to it.
    async def _self_checkpoint(self, path):
        model = await self.get(path, content=False)
        return {"id": "checkpoint", "last_modified": model["last_modified"]}

    async def create_checkpoint(self, path):
        if self.is_read_only(path):
            return await self._self_checkpoint(path)
        return await super().create_checkpoint(path)

    async def list_checkpoints(self, path):
        if self.is_read_only(path):
            return [await self._self_checkpoint(path)]
        return await super().list_checkpoints(path)

    async def delete_checkpoint(self, checkpoint_id, path):
        if self.is_read_only(path):
            return None
        return await super().delete_checkpoint(checkpoint_id, path)

    async def restore_checkpoint(self, checkpoint_id, path):
        self._refuse(path, "restore a checkpoint over")
        return await super().restore_checkpoint(checkpoint_id, path)


def settings_problems(serverapp, allow_remote: bool) -> list[str]:
    """What is unsafe in a configured (not yet listening) ServerApp; [] when all is well."""
    say = lab_options.LAB_MESSAGES
    problems = []
    provider = getattr(serverapp, "identity_provider", None)
    token = getattr(provider, "token", "")
    if not token or not getattr(provider, "auth_enabled", False):
        problems.append(say["token"].format(option="the configuration in force"))
    if serverapp.disable_check_xsrf or (serverapp.tornado_settings or {}).get("xsrf_cookies") is False:
        problems.append(say["xsrf"].format(option="the configuration in force"))
    if serverapp.allow_origin == "*" or serverapp.allow_origin_pat:
        problems.append(say["origin"].format(option="the configuration in force"))
    if not serverapp.sock and not allow_remote:
        if not lab_options.is_loopback(serverapp.ip):
            problems.append(say["ip"].format(
                option=f"the configuration in force (ip={serverapp.ip!r})"))
        elif serverapp.allow_remote_access:
            problems.append(say["remote_access"].format(
                option="the configuration in force"))
    return problems


def _guard_server(allow_remote: bool) -> None:
    """Check the settings in force just before the server binds its port."""
    from jupyter_server.serverapp import ServerApp

    original = ServerApp.init_httpserver

    def init_httpserver(self):
        problems = settings_problems(self, allow_remote)
        if problems:
            for problem in problems:
                print(f"[workbook] refused: {problem}", file=sys.stderr, flush=True)
            print("[workbook] JupyterLab was not started (a config file or environment variable "
                  "asked for it; see `.venv/bin/jupyter --paths` for where config is read).",
                  file=sys.stderr, flush=True)
            raise SystemExit(2)
        return original(self)

    ServerApp.init_httpserver = init_httpserver


def main(argv: list[str]) -> int:
    allow_remote = "--allow-remote" in argv
    argv = [a for a in argv if a != "--allow-remote"]
    _guard_server(allow_remote)
    from jupyterlab.labapp import LabApp

    LabApp.launch_instance(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
