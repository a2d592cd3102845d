"""The ``smsframe`` command: the demo, audits and the provider's simulator.

- ``smsframe demo [--journal URL] [--plot FILE]``
- ``smsframe audit --campaign NAME [--journal URL|PATH] [--by COLUMN] [--html FILE]
  [--csv DIR] [--plot FILE]``
- ``smsframe campaigns [--journal URL|PATH]``

``--journal`` defaults to this user's journal (:func:`smsframe.journal.default_url`).
- ``smsframe simulator serve --db PATH [--port N] [--latency-ms N] [--account ...]``
- ``smsframe simulator deliveries --db PATH``
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

JOURNAL_HELP = (
    "the journal: a SQLAlchemy URL or a file path (default: this user's journal, "
    "or $SMSFRAME_JOURNAL)"
)


def _account(text: str) -> tuple[int, str, str, int]:
    try:
        account_id, name, rest = text.split(":", 2)
        password, balance = rest.rsplit(":", 1)  # a password may hold ":"
        return int(account_id), name, password, int(balance)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected ID:NAME:PASSWORD:BALANCE, e.g. 101:demo:secret:1000"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsframe", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run a small campaign on the embedded simulator")
    demo.add_argument(
        "--journal", help="keep the journal at this SQLAlchemy URL (default: a temporary file)"
    )
    demo.add_argument("--plot", type=Path, metavar="FILE", help="save the audit's charts (PNG)")

    audit = commands.add_parser("audit", help="audit a campaign from its journal")
    audit.add_argument("--journal", help=JOURNAL_HELP)
    audit.add_argument("--campaign", required=True, help="the campaign's name")
    audit.add_argument("--by", help="a journal column to segment on (e.g. operation)")
    audit.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report")
    audit.add_argument("--csv", type=Path, metavar="DIR", help="write every table as DIR/NAME.csv")
    audit.add_argument("--plot", type=Path, metavar="FILE", help="save the charts (PNG, SVG...)")

    campaigns = commands.add_parser("campaigns", help="list a journal's campaigns with totals")
    campaigns.add_argument("--journal", help=JOURNAL_HELP)

    simulator = commands.add_parser("simulator", help="the provider's simulator").add_subparsers(
        dest="action", required=True
    )
    serve = simulator.add_parser("serve", help="serve the provider's SOAP service on 127.0.0.1")
    serve.add_argument("--db", required=True, help="SQLite file holding the simulator's state")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--latency-ms", type=int, default=0, help="fixed latency of every call")
    serve.add_argument(
        "--account",
        type=_account,
        action="append",
        default=[],
        metavar="ID:NAME:PASSWORD:BALANCE",
        help="open an account unless it exists already (repeatable)",
    )
    deliveries = simulator.add_parser("deliveries", help="print the delivery log as CSV")
    deliveries.add_argument("--db", required=True)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from smsframe.simulator import Simulator

    simulator = Simulator(args.db, host=args.host, port=args.port, latency_ms=args.latency_ms)
    for account_id, name, password, balance in args.account:
        if not simulator.store.has_account(account_id):
            simulator.add_account(account_id, name, password, balance)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with simulator:
        print(simulator.wsdl_url, flush=True)
        stop.wait()
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    from smsframe.simulator.server import deliveries_frame
    from smsframe.simulator.store import Store

    if not Path(args.db).is_file():
        _say(f"smsframe: no simulator database at {args.db}", file=sys.stderr)
        return 2
    store = Store(args.db)
    try:
        deliveries_frame(store).to_csv(sys.stdout, index=False)
    finally:
        store.close()
    return 0


# Control characters (C0 but newline and tab, DEL, C1): a campaign name or a message
# could carry terminal escapes (ANSI colours, OSC titles, hyperlinks) to a terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _say(text: object = "", file=None) -> None:
    """Print ``text`` with its control characters escaped (``\\x1b``...)."""
    shown = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), str(text))
    print(shown, file=file or sys.stdout)


def _audit(args: argparse.Namespace) -> int:
    from smsframe.audits import from_journal
    from smsframe.journal import as_url, default_url

    url = as_url(args.journal) if args.journal else default_url()
    try:
        audit = from_journal(url, args.campaign, by=args.by)
    except (FileNotFoundError, ValueError) as error:
        _say(f"smsframe: {error}", file=sys.stderr)
        return 2
    _say(audit)
    if args.csv:
        args.csv.mkdir(parents=True, exist_ok=True)
        for name in audit.tables:
            audit.to_frame(name).to_csv(args.csv / f"{name}.csv")
        _say(f"\n{len(audit.tables)} tables written to {args.csv}/")
    if args.html:
        args.html.write_text(audit.to_html(), encoding="utf-8")
        _say(f"report written to {args.html}")
    if args.plot:
        audit.plot().savefig(args.plot, dpi=100)
        _say(f"charts written to {args.plot}")
    return 0


def _campaigns(args: argparse.Namespace) -> int:
    import pandas as pd

    from smsframe.audits import campaigns
    from smsframe.journal import as_url, default_url, masked

    url = as_url(args.journal) if args.journal else default_url()
    try:
        table = campaigns(url)
    except FileNotFoundError as error:
        _say(f"smsframe: {error}", file=sys.stderr)
        return 2
    _say(f"journal: {masked(url)}")
    if table.empty:
        _say("no campaigns in this journal")
        return 0
    table["created_at"] = table["created_at"].dt.strftime("%Y-%m-%d %H:%M")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        _say(table.to_string(na_rep=""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from smsframe.demo import run

        return run(journal=args.journal, plot=args.plot)
    if args.command == "audit":
        return _audit(args)
    if args.command == "campaigns":
        return _campaigns(args)
    if args.action == "serve":
        return _serve(args)
    return _deliveries(args)


if __name__ == "__main__":
    sys.exit(main())
