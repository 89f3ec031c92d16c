"""``esp-at-sim ctl``: the control API from the shell, for CI scripts in any language.

The server is found from ``--url``/``--token``, the ``ESP_AT_SIM_URL`` and
``ESP_AT_SIM_TOKEN`` variables, or the ``control.json`` file a running
``esp-at-sim --control ...`` writes in its state directory. Output is JSON on
stdout. Exit status: 0 done, 1 a wait that timed out, 2 a refused request
(bad input, unknown module), 3 no server.

Only the standard library is imported here so the command starts fast.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import typer

ctl_app = typer.Typer(help="Drive a running esp-at-sim through its control API.", no_args_is_help=True)


class _Target:
    url: str = ""
    token: str = ""


_target = _Target()


def _info_file() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("esp-at-sim")) / "control.json"


@ctl_app.callback()
def _options(
    url: Annotated[str | None, typer.Option(envvar="ESP_AT_SIM_URL", help="http://HOST:PORT of the server")] = None,
    token: Annotated[str | None, typer.Option(envvar="ESP_AT_SIM_TOKEN", help="bearer token")] = None,
    info: Annotated[Path | None, typer.Option("--info", help="control.json written by the server")] = None,
) -> None:
    if url is None or token is None:
        path = info or _info_file()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        url = url or data.get("url")
        token = token or data.get("token")
    # a missing server is reported by the first request, so ``ctl send --help`` works without one
    _target.url = (url or "").rstrip("/")
    _target.token = token or ""


def _call(method: str, path: str, body: Any = None, *, ok_statuses: tuple[int, ...] = (200,)) -> Any:
    if not _target.url:
        typer.echo("error: no control server (give --url, set ESP_AT_SIM_URL, or start esp-at-sim --control)", err=True)
        raise typer.Exit(3)
    # imported here: every esp-at-sim command line registers this one, few call it
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(_target.url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {_target.token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=3700) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        typer.echo(f"error: cannot reach {_target.url}: {exc}", err=True)
        raise typer.Exit(3) from None
    try:
        result = json.loads(raw) if raw else None
    except ValueError:
        result = raw.decode("utf-8", "replace")
    if status not in ok_statuses:
        message = result.get("error") if isinstance(result, dict) else result
        typer.echo(f"error: {status}: {message}", err=True)
        raise typer.Exit(1 if status == 408 else 2)
    return result


def _print(obj: Any) -> None:
    if isinstance(obj, str):
        sys.stdout.write(obj)
    else:
        typer.echo(json.dumps(obj, indent=2))


def _parse_value(text: str) -> Any:
    """``k=v`` values: JSON when it parses (numbers, true, "quoted"), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            typer.echo(f"error: expected NAME=VALUE, got {pair!r}", err=True)
            raise typer.Exit(2)
        out[key] = _parse_value(value)
    return out


@ctl_app.command()
def world() -> None:
    """The world: time, modules, access points, peers."""
    _print(_call("GET", "/api/world"))


@ctl_app.command()
def modules() -> None:
    """Every module's state."""
    _print(_call("GET", "/api/modules"))


@ctl_app.command()
def state(
    module: str,
    path: Annotated[str | None, typer.Argument(help="a value inside the state, e.g. heap.free")] = None,
) -> None:
    """One module's state, or one value of it."""
    snap = _call("GET", f"/api/modules/{module}")
    if path is None:
        _print(snap)
        return
    cur: Any = snap
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            typer.echo(f"error: no {path!r} in the state of {module}", err=True)
            raise typer.Exit(2)
    # scalars print bare, so `$(esp-at-sim ctl state esp0 wifi.ip)` is usable in a script
    typer.echo(cur if isinstance(cur, str) else json.dumps(cur))


@ctl_app.command()
def uart(
    module: str,
    since: Annotated[int, typer.Option(help="only entries after this sequence number")] = 0,
    raw: Annotated[bool, typer.Option("--raw", help="print the module's output bytes only")] = False,
) -> None:
    """The UART log (JSON, or with --raw the bytes the module wrote)."""
    result = _call("GET", f"/api/modules/{module}/uart?since={since}&limit=100000")
    if raw:
        out = b"".join(bytes.fromhex(e["hex"]) for e in result["entries"] if e["dir"] == "out")
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
        return
    _print(result)


@ctl_app.command()
def send(
    module: str,
    text: str,
    hex_: Annotated[bool, typer.Option("--hex", help="TEXT is hex digits")] = False,
    crlf: Annotated[bool, typer.Option("--crlf/--no-crlf", help="append \\r\\n (default on for text)")] = True,
) -> None:
    """Bytes into a module's UART as if the host sent them: ``ctl send esp0 AT``."""
    body: dict[str, Any] = {"hex": text} if hex_ else {"text": text, "crlf": crlf}
    _print(_call("POST", f"/api/modules/{module}/uart", body))


@ctl_app.command()
def faults() -> None:
    """Every fault that can be injected, with its parameters."""
    _print(_call("GET", "/api/faults"))


@ctl_app.command()
def inject(
    fault: str,
    params: Annotated[list[str] | None, typer.Argument(help="NAME=VALUE parameters")] = None,
) -> None:
    """Inject a fault: ``ctl inject uart_drop module=esp0 count=3``."""
    _print(_call("POST", f"/api/faults/{fault}", _params(params or [])))


@ctl_app.command()
def reset(
    module: str,
    reason: Annotated[str, typer.Option(help="poweron, brownout, panic, watchdog or rtc_watchdog")] = "poweron",
) -> None:
    """A spontaneous reset of a module, with the boot log of its cause."""
    _print(_call("POST", f"/api/modules/{module}/reset", {"reason": reason}))


@ctl_app.command()
def wait(
    module: str,
    uart_pattern: Annotated[
        str | None, typer.Option("--uart", help="regular expression on the module's output")
    ] = None,
    state_path: Annotated[str | None, typer.Option("--state", help="state path, e.g. wifi.state")] = None,
    equals: Annotated[str | None, typer.Option(help="value the state must have (JSON or text)")] = None,
    since: Annotated[int | None, typer.Option(help="search output after this sequence number (default: now)")] = None,
    timeout: Annotated[float, typer.Option(help="seconds of world time")] = 10.0,
) -> None:
    """Wait for a UART pattern or a state value; exit status 1 on timeout."""
    body: dict[str, Any] = {"module": module, "timeout": timeout}
    if uart_pattern is not None:
        body["uart"] = uart_pattern
    if state_path is not None:
        body["state"] = state_path
        if equals is not None:
            body["equals"] = _parse_value(equals)
    if since is not None:
        body["since"] = since
    _print(_call("POST", "/api/wait", body))


@ctl_app.command("ap-add")
def ap_add(
    params: Annotated[list[str], typer.Argument(help="[[access_point]] keys: ssid=lab password=... channel=6")],
) -> None:
    """Add an access point to the world."""
    _print(_call("POST", "/api/access_points", _params(params), ok_statuses=(201,)))


@ctl_app.command("ap-set")
def ap_set(
    ssid: str,
    params: Annotated[list[str], typer.Argument(help="rssi=-80 (or null), position=[3,4], up=false")],
    bssid: Annotated[str | None, typer.Option(help="which AP, when several share the SSID")] = None,
) -> None:
    """Change an access point: its signal, its place, whether it is up."""
    query = f"?bssid={urllib.parse.quote(bssid)}" if bssid else ""
    _print(_call("PATCH", f"/api/access_points/{urllib.parse.quote(ssid)}{query}", _params(params)))


@ctl_app.command("ap-remove")
def ap_remove(ssid: str) -> None:
    """Remove an access point from the world."""
    _print(_call("DELETE", f"/api/access_points/{urllib.parse.quote(ssid)}"))


@ctl_app.command()
def move(module: str, x: float, y: float) -> None:
    """Move a module to (x, y) metres: Wi-Fi and BLE signal follow."""
    _print(_call("PUT", f"/api/modules/{module}/position", {"position": [x, y]}))


@ctl_app.command("ble-add")
def ble_add(params: Annotated[list[str], typer.Argument(help="[[ble_peer]] keys: name=tag ...")]) -> None:
    """Add a BLE peer (beacon) to the world."""
    _print(_call("POST", "/api/ble_peers", _params(params), ok_statuses=(201,)))


@ctl_app.command("ble-remove")
def ble_remove(name: str) -> None:
    """A BLE peer leaves the world."""
    _print(_call("DELETE", f"/api/ble_peers/{urllib.parse.quote(name)}"))
