"""The options of `python3 workbook.py lab`: what each one sets, and which are refused.

Standard library only: `workbook.py` loads this before any environment exists, so a refused
option is reported before anything is installed; `tools/lab_server.py` uses the same
messages for the settings in force (config files included) just before JupyterLab listens.

An option that would turn authentication off (an empty token or password, another login
or identity class, XSRF checks off, cross-origin requests allowed) is always refused. One
that makes a server listen on a non-loopback address (`--ip=0.0.0.0`, `--KernelManager.ip`,
`ServerApp.allow_remote_access`) is refused unless `--allow-remote` is given; the token
stays on either way.
"""
from __future__ import annotations

import ipaddress

__all__ = ["LAB_ALIASES", "LAB_FLAGS", "LAB_SYNONYMS", "LAB_MESSAGES", "LabOptionError",
           "is_loopback", "parse_lab_options", "lab_refusals", "unquote"]

# JupyterLab's short options and the setting each one stands for.
LAB_ALIASES = {
    "ip": "ServerApp.ip", "port": "ServerApp.port", "port-retries": "ServerApp.port_retries",
    "notebook-dir": "ServerApp.root_dir", "preferred-dir": "ServerApp.preferred_dir",
    "keyfile": "ServerApp.keyfile", "certfile": "ServerApp.certfile",
    "client-ca": "ServerApp.client_ca", "browser": "ServerApp.browser",
    "pylab": "ServerApp.pylab", "sock": "ServerApp.sock", "sock-mode": "ServerApp.sock_mode",
    "config": "JupyterApp.config_file", "log-level": "Application.log_level",
    "app-dir": "LabApp.app_dir", "watch": "LabApp.watch",
}
LAB_FLAGS = {"no-browser": ("ServerApp.open_browser", "False"),
             "allow-root": ("ServerApp.allow_root", "True")}
# Older spellings of the settings the lab command chooses itself.
LAB_SYNONYMS = {
    "NotebookApp.ip": "ServerApp.ip", "NotebookApp.port": "ServerApp.port",
    "NotebookApp.notebook_dir": "ServerApp.root_dir", "ServerApp.notebook_dir": "ServerApp.root_dir",
    "NotebookApp.open_browser": "ServerApp.open_browser",
    "NotebookApp.allow_root": "ServerApp.allow_root",
    "NotebookApp.contents_manager_class": "ServerApp.contents_manager_class",
    "ServerApp.preferred_dir": "ContentsManager.preferred_dir",
    "FileContentsManager.preferred_dir": "ContentsManager.preferred_dir",
}
LAB_MESSAGES = {
    "token": ("{option} would turn token authentication off, and then anyone who can reach the "
              "server could run code as you. The lab command keeps a random token (printed in "
              "the URL); leave the option out, or give a token of your own "
              "(--IdentityProvider.token=<a long random string>)."),
    "password": ("{option} empties the password; the lab command keeps authentication on. "
                 "Leave the option out (the printed URL carries a random token)."),
    "auth_class": ("{option} replaces JupyterLab's login machinery; the lab command does not "
                   "allow that. Run `.venv/bin/jupyter lab` yourself if you really need it."),
    "xsrf": ("{option} turns off the protection against requests forged by other web pages "
             "(XSRF); the lab command keeps it on. Leave the option out."),
    "origin": ("{option} lets other web sites send requests to the server (CORS); the lab "
               "command does not allow that. Leave the option out."),
    "ip": ("{option} makes JupyterLab listen on a non-loopback address, reachable from other "
           "machines. The lab command listens on 127.0.0.1 only. If you really mean it (e.g. a "
           "container or a remote machine), add --allow-remote: token authentication stays on."),
    "remote_access": ("{option} lets requests with other host names in; the lab command allows "
                      "that only with --allow-remote (token authentication stays on)."),
}
AUTH_CLASS_TRAITS = {"identity_provider_class", "authorizer_class", "login_handler_class",
                     "logout_handler_class"}
TRUE_WORDS = {"true", "1", "yes", "on"}


class LabOptionError(ValueError):
    """An option the lab command refuses (it would weaken the server's security)."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: localhost, 127.x.x.x, ::1."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "", "*", "0.0.0.0" parse or not, a host name: not loopback
        return False


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    return value


def parse_lab_options(extra: list[str]) -> tuple[list[tuple[str, str, list[str]]], bool]:
    """Split the user's lab options into [(setting, value, the original words)] and
    whether --allow-remote was given. Words that set no known setting (flags such as
    --debug, a file to open) come back with setting "" and are passed on unchanged."""
    items: list[tuple[str, str, list[str]]] = []
    allow_remote = False
    i = 0
    while i < len(extra):
        word = extra[i]
        i += 1
        if word == "--allow-remote":
            allow_remote = True
            continue
        if not word.startswith("--") or word == "--":
            items.append(("", "", [word]))
            continue
        name, has_value, value = word[2:].partition("=")
        if name in LAB_FLAGS and not has_value:
            setting, value = LAB_FLAGS[name]
            items.append((setting, value, [word]))
            continue
        if name in LAB_ALIASES or "." in name:
            words = [word]
            if not has_value:
                if i >= len(extra):
                    raise LabOptionError(f"{word} needs a value, e.g. {word}=<value>")
                value = extra[i]
                words.append(value)
                i += 1
            setting = LAB_ALIASES.get(name, name)
            items.append((LAB_SYNONYMS.get(setting, setting), value, words))
            continue
        items.append(("", "", [word]))
    return items, allow_remote


def lab_refusals(items: list[tuple[str, str, list[str]]], allow_remote: bool) -> list[str]:
    """A message for every option that would switch authentication off or open the server
    to other machines (without --allow-remote); [] when all are fine."""
    found = []
    for setting, value, words in items:
        if not setting:
            continue
        option = "`" + " ".join(w if w else "''" for w in words) + "`"
        trait = setting.rsplit(".", 1)[-1]
        plain = unquote(value)
        if trait == "token" and not plain:
            found.append(LAB_MESSAGES["token"].format(option=option))
        elif trait in ("password", "hashed_password") and not plain:
            found.append(LAB_MESSAGES["password"].format(option=option))
        elif trait in AUTH_CLASS_TRAITS:
            found.append(LAB_MESSAGES["auth_class"].format(option=option))
        elif trait == "disable_check_xsrf" and plain.lower() in TRUE_WORDS:
            found.append(LAB_MESSAGES["xsrf"].format(option=option))
        elif trait == "tornado_settings" and "xsrf" in plain.lower():
            found.append(LAB_MESSAGES["xsrf"].format(option=option))
        elif trait in ("allow_origin", "allow_origin_pat") and plain:
            found.append(LAB_MESSAGES["origin"].format(option=option))
        elif trait == "ip" and not allow_remote and not is_loopback(plain):
            found.append(LAB_MESSAGES["ip"].format(option=option))
        elif trait == "allow_remote_access" and plain.lower() in TRUE_WORDS and not allow_remote:
            found.append(LAB_MESSAGES["remote_access"].format(option=option))
    return found
