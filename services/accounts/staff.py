"""Create a staff account from the command line, over RPC against the running system.

    python -m services.accounts.staff create --email ola@panel.localhost --first-name Ola --last-name Nowak

The password comes from STAFF_PASSWORD or, when that is unset, a prompt (asked twice).
Staff can never be made through public registration: `accounts.create_staff`
refuses any caller but this command (ctx actor type "operator").
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from nameko.exceptions import RpcTimeout, UnknownService

from kernel import settings
from kernel.errors import CommandError
from kernel.events import new_id

Call = Callable[..., Any]


def rpc_call(method: str, *args: Any, **kwargs: Any) -> Any:
    """One call to the accounts service on the broker named by AMQP_URI, signed as the operator
    (RPC_SIGNING_KEYS; `make staff` reads the key `make up` generated)."""
    from kernel.caller import SignedClusterRpcProxy

    config = {"AMQP_URI": settings.AMQP_URI, "serializer": "json"}
    ctx = kwargs.pop("ctx", None) or operator_ctx()
    with SignedClusterRpcProxy(config, ctx, timeout=float(os.environ.get("RPC_TIMEOUT", "10"))) as proxy:
        return getattr(proxy.accounts, method)(*args, **kwargs)


def operator_ctx() -> dict[str, Any]:
    who = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return {"actor": {"type": "operator", "id": f"cli:{who}"}, "correlation_id": new_id()}


def read_password(env: Mapping[str, str], prompt: Callable[[str], str]) -> str:
    if env.get("STAFF_PASSWORD"):
        return env["STAFF_PASSWORD"]
    first = prompt("Password for the staff account: ")
    if first != prompt("Repeat the password: "):
        raise CommandError("invalid_input", {"password": "password_mismatch"})
    return first


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.accounts.staff", description="Manage staff accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a verified staff account")
    create.add_argument("--email", required=True)
    create.add_argument("--first-name", required=True)
    create.add_argument("--last-name", required=True)
    return parser


def run(argv: list[str], call: Call = rpc_call, env: Mapping[str, str] = os.environ,
        prompt: Callable[[str], str] = getpass.getpass) -> int:  # fmt: skip
    """The command; returns the exit code (0 created, 1 refused, 2 the system did not answer)."""
    args = parser().parse_args(argv)
    try:
        password = read_password(env, prompt)
        created = call("create_staff", args.email, args.first_name, args.last_name, password, ctx=operator_ctx())
    except CommandError as exc:
        fields = ", ".join(f"{name}: {code}" for name, code in exc.fields.items())
        print(f"refused: {exc.code}" + (f" ({fields})" if fields else ""), file=sys.stderr)
        return 1
    except (UnknownService, RpcTimeout, OSError) as exc:
        print(f"the accounts service did not answer ({type(exc).__name__}); is the stack up (make up)?",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"staff account {created['email']} created (id {created['account_id']}); log in at {settings.PUBLIC_URL}")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
