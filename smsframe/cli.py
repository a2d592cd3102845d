"""The ``smsframe`` command: the demo, audits and the provider's simulator.

- ``smsframe demo [--journal URL|PATH] [--plot FILE]``
- ``smsframe audit --campaign NAME [--journal URL|PATH] [--by COLUMN] [--html FILE]
  [--csv DIR] [--plot FILE]``
- ``smsframe campaigns [--journal URL|PATH]``
- ``smsframe suppress add [NUMBER ...] [--csv FILE] [--column NAME] [--reason REASON]
  [--note TEXT] [--region CC] [--journal URL|PATH]``
- ``smsframe suppress remove [NUMBER ...] [--csv FILE] [--column NAME] [--note TEXT]
  [--region CC] [--journal URL|PATH]``
- ``smsframe suppress list [--history] [--csv FILE] [--journal URL|PATH]``
- ``smsframe simulator serve --db PATH [--host HOST] [--port N] [--latency-ms N]
  [--account ...]``
- ``smsframe simulator deliveries --db PATH``
- ``smsframe --version``

``--journal`` defaults to this user's journal (:func:`smsframe.journal.default_url`).
A mistake on the command line (a journal that is not there, a URL with a typo, an
unknown campaign) is one line on stderr, ``smsframe: error: ...``, and exit status 2;
a failure of the work (the journal's server down, a file that cannot be written) is
such a line and exit status 1. Neither prints a traceback, nor a password.

This docstring is for Sphinx; ``--help`` reads the plain text of :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sqlite3
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from smsframe import __version__
from smsframe.errors import InvalidValue, JournalError, SmsError, UsageError
from smsframe.journal import JOURNAL_ENV, Address, address, as_url, default_url, masked

DESCRIPTION = (
    "Send, schedule and audit SMS campaigns from pandas. This command runs a demo, "
    "lists and audits the campaigns recorded in a journal, keeps its suppression list, "
    "and serves a local simulator of the SMS provider."
)

EPILOG = """\
examples:
  smsframe demo --journal demo.sqlite           run the demo and keep its journal
  smsframe campaigns                            list the campaigns of your journal
  smsframe audit --campaign demo --journal demo.sqlite --html audit.html
  smsframe suppress add 13800138000             never message this number again
  smsframe simulator serve --db sim.sqlite --account 101:demo:secret:1000

The journal records every call made to the provider. --journal takes a file path
(demo.sqlite) or a SQLAlchemy URL (sqlite:///path/journal.sqlite,
postgresql://user@host/database).
"""

JOURNAL_METAVAR = "FILE|URL"


class CommandError(Exception):
    """A mistake or a failure, in one line that says what to do. ``status``: the exit
    status, 2 when the command line is wrong (as argparse exits), 1 when the work failed."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


# -- the parser ----------------------------------------------------------------


# A URL's password, "scheme://user:PASSWORD@", in a message that echoes an argument.
_PASSWORD = re.compile(r"(://[^/@\s:]*:)\S*@")  # to its last "@": one may be in it


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors show no password: ``smsframe campaigns URL``,
    --journal forgotten, is an unrecognized argument that argparse echoes."""

    def error(self, message: str) -> NoReturn:
        super().error(_PASSWORD.sub(r"\1***@", message))


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (wrapped by :func:`_wrapped`, examples kept
    on their lines); the commands' names and their help on one line (argparse counts
    the commands' width without their indent, and puts the help of the longest on the
    next line)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=28)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.nargs == argparse.PARSER and action.choices:  # the commands, indented
            longest = (
                max(map(len, action.choices)) + self._current_indent + 2 * self._indent_increment
            )
            self._action_max_length = max(self._action_max_length, longest)


def _wrapped(text: str) -> str:
    return textwrap.fill(text, width=79)


def _help_text(text: str) -> str:
    """``text`` for argparse's help, which %-formats it."""
    return text.replace("%", "%%")


def _your_journal() -> str:
    """Where the journal is when --journal is not given, in words."""
    import platformdirs

    path = platformdirs.user_data_path("smsframe", appauthor=False) / "journal.sqlite"
    return _help_text(f"${JOURNAL_ENV} if set, else your own journal, {path}")


def _account(text: str) -> tuple[int, str, str, int]:
    try:
        account_id, name, rest = text.split(":", 2)
        password, balance = rest.rsplit(":", 1)  # a password may hold ":"
        return int(account_id), name, password, int(balance)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected ID:NAME:PASSWORD:BALANCE, e.g. 101:demo:secret:1000"
        ) from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0 to 65535")
    return port


def _milliseconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a delay: give whole milliseconds >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``smsframe`` command's parser: every option says what it is and its default."""
    parser = _Parser(
        prog="smsframe",
        description=_wrapped(DESCRIPTION),
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help="print smsframe's version and exit",
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        title="commands",
        help="run 'smsframe COMMAND --help' for its options",
    )
    journal_to_read = (
        f"the journal to read: a file path or a SQLAlchemy URL (default: {_your_journal()})"
    )

    demo = commands.add_parser(
        "demo",
        help="run a small campaign on the embedded simulator",
        description=_wrapped(
            "Send a campaign of 3000 synthetic contacts to an embedded simulator of the "
            "provider, send it again to show that nothing goes out twice, then print its "
            "audit. Nothing leaves this machine."
        ),
        epilog=(
            "example:\n  smsframe demo --journal demo.sqlite --plot audit.png\n"
            "  smsframe audit --journal demo.sqlite --campaign demo"
        ),
        formatter_class=_Formatter,
    )
    demo.add_argument(
        "--journal",
        metavar=JOURNAL_METAVAR,
        help="keep the demo's journal in this file or SQLAlchemy URL, to audit it "
        "afterwards (default: a temporary file, deleted at the end)",
    )
    demo.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="save the audit's charts to FILE; its extension picks the format: .png, "
        ".svg, .pdf... (default: no charts)",
    )
    demo.set_defaults(run=_demo)

    audit = commands.add_parser(
        "audit",
        help="audit a campaign from its journal",
        description=_wrapped(
            "Print the audit of a campaign from the journal alone: its rows by status and "
            "reason, whether its cost reconciles with the balance, its batches; optionally "
            "as an HTML report, CSV tables and charts."
        ),
        epilog=(
            "example:\n  smsframe audit --campaign nov-promo --by operation "
            "--html audit.html --csv audit/"
        ),
        formatter_class=_Formatter,
    )
    audit.add_argument(
        "--campaign",
        required=True,
        metavar="NAME",
        help="the campaign's name, as it was sent (required; 'smsframe campaigns' lists them)",
    )
    audit.add_argument("--journal", metavar=JOURNAL_METAVAR, help=journal_to_read)
    audit.add_argument(
        "--by",
        metavar="COLUMN",
        help="also break the audit down by this journal column, e.g. operation "
        "(default: no breakdown)",
    )
    audit.add_argument(
        "--html", type=Path, metavar="FILE", help="also write an HTML report (default: none)"
    )
    audit.add_argument(
        "--csv",
        type=Path,
        metavar="DIR",
        help="also write every table as DIR/NAME.csv, creating DIR (default: none)",
    )
    audit.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="also save the charts; the extension picks the format: .png, .svg, .pdf... "
        "(default: none)",
    )
    audit.set_defaults(run=_audit)

    campaigns = commands.add_parser(
        "campaigns",
        help="list a journal's campaigns with totals",
        description=_wrapped(
            "List the campaigns of a journal, one a line: when created, recipients, a "
            "count per status, parts charged, balance before and after, and whether the "
            "cost reconciles."
        ),
        epilog="example:\n  smsframe campaigns --journal demo.sqlite",
        formatter_class=_Formatter,
    )
    campaigns.add_argument("--journal", metavar=JOURNAL_METAVAR, help=journal_to_read)
    campaigns.set_defaults(run=_campaigns)

    _add_suppress(commands, journal_to_read)

    simulator = commands.add_parser(
        "simulator",
        help="run the provider's simulator, or read its delivery log",
        description=_wrapped(
            "A local simulator of the SMS provider's SOAP service, to try campaigns "
            "without sending anything."
        ),
        formatter_class=_Formatter,
    ).add_subparsers(
        dest="action",
        required=True,
        metavar="ACTION",
        title="actions",
        help="run 'smsframe simulator ACTION --help' for its options",
    )
    serve = simulator.add_parser(
        "serve",
        help="serve the provider's SOAP service and print its WSDL URL",
        description=_wrapped(
            "Serve the provider's SOAP service until Ctrl-C (or SIGTERM). Its first line "
            "of output is the WSDL URL to give to smsframe.SmsClient. Its accounts and "
            "delivery log are kept in the --db file across restarts."
        ),
        epilog=(
            "example:\n  smsframe simulator serve --db sim.sqlite --port 8080 "
            "--account 101:demo:secret:1000"
        ),
        formatter_class=_Formatter,
    )
    serve.add_argument(
        "--db",
        required=True,
        metavar="FILE",
        help="SQLite file holding the simulator's accounts and delivery log, created if "
        "missing (required)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=0,
        metavar="N",
        help="TCP port to listen on; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--latency-ms",
        type=_milliseconds,
        default=0,
        metavar="MS",
        help="a fixed delay added to every call, in milliseconds (default: %(default)s)",
    )
    serve.add_argument(
        "--account",
        type=_account,
        action="append",
        default=[],
        metavar="ID:NAME:PASSWORD:BALANCE",
        help="open this account unless it exists already; repeat for several (default: none)",
    )
    serve.set_defaults(run=_serve)

    deliveries = simulator.add_parser(
        "deliveries",
        help="print the simulator's delivery log as CSV",
        description=_wrapped(
            "Print the simulator's delivery log as CSV, one row per number delivered."
        ),
        epilog="example:\n  smsframe simulator deliveries --db sim.sqlite > deliveries.csv",
        formatter_class=_Formatter,
    )
    deliveries.add_argument(
        "--db",
        required=True,
        metavar="FILE",
        help="the simulator's SQLite file, as given to 'serve' (required)",
    )
    deliveries.set_defaults(run=_deliveries)
    return parser


SUPPRESSION_LIST = (
    "Numbers on a journal's suppression list are never sent to by any campaign on that "
    "journal (their rows are rejected 'suppressed'). A removal is recorded beside the "
    "addition, never deleted: 'smsframe suppress list --history' shows who changed what, "
    "and when."
)


def _add_suppress(commands: argparse._SubParsersAction, journal_to_read: str) -> None:
    """``smsframe suppress add|remove|list``."""
    from smsframe.suppression import REASONS

    actions = commands.add_parser(
        "suppress",
        help="numbers no campaign may message: add, remove, list",
        description=_wrapped(SUPPRESSION_LIST),
        epilog=(
            "example:\n  smsframe suppress add 13800138000 '+86 139 0013 8000' "
            "--note 'replied T'\n"
            "  smsframe suppress add --csv opt-outs.csv --column mobile --reason complaint\n"
            "  smsframe suppress list --history"
        ),
        formatter_class=_Formatter,
    ).add_subparsers(
        dest="action",
        required=True,
        metavar="ACTION",
        title="actions",
        help="run 'smsframe suppress ACTION --help' for its options",
    )
    journal_to_change = (
        "the journal whose list to change: a file path or a SQLAlchemy URL (default: "
        f"{_your_journal()})"
    )

    def numbers(parser: argparse.ArgumentParser, verb: str) -> None:
        """The numbers' options: from the command line, a CSV file."""
        parser.add_argument(
            "numbers",
            nargs="*",
            metavar="NUMBER",
            help=f"a phone number to {verb}, in any spelling a contact list has "
            "(quote one with spaces: '+86 138 0013 8000')",
        )
        parser.add_argument(
            "--csv",
            type=Path,
            metavar="FILE",
            help=f"also {verb} the numbers of this CSV file's --column, or of its only "
            "column (default: none)",
        )
        parser.add_argument(
            "--column",
            default="phone",
            metavar="NAME",
            help="the --csv file's column of numbers (default: %(default)s, or the file's "
            "only column)",
        )

    def recorded(parser: argparse.ArgumentParser) -> None:
        """The options of the change: its note, the numbers' region, the journal."""
        parser.add_argument(
            "--note",
            metavar="TEXT",
            help="free text recorded with each number: the campaign it replied to, a "
            "ticket... (default: none)",
        )
        parser.add_argument(
            "--region",
            default="CN",
            metavar="CC",
            help="where numbers without a country code are from, as an ISO code "
            "(default: %(default)s)",
        )
        parser.add_argument("--journal", metavar=JOURNAL_METAVAR, help=journal_to_change)

    add = actions.add_parser(
        "add",
        help="add numbers: no campaign on the journal sends to them any more",
        description=_wrapped(
            "Add numbers to the suppression list: no campaign on this journal sends to "
            "them any more, whoever runs it. Prints how many were added; exit status 1 "
            "if some values are not phone numbers (the others are added all the same)."
        ),
        epilog=(
            "example:\n  smsframe suppress add 13800138000 '+86 139 0013 8000' "
            "--note 'replied T to nov-promo'\n"
            "  smsframe suppress add --csv complaints.csv --column mobile --reason complaint"
        ),
        formatter_class=_Formatter,
    )
    numbers(add, "add")
    add.add_argument(
        "--reason",
        choices=list(REASONS),
        default="opt_out",
        metavar="REASON",
        help="why: opt_out (the recipient asked for no more messages), complaint, blocked "
        "(by the carrier or the provider) or manual (the note says why) "
        "(default: %(default)s)",
    )
    recorded(add)
    add.set_defaults(run=_suppress_add)

    remove = actions.add_parser(
        "remove",
        help="take numbers off the list (recorded, never deleted)",
        description=_wrapped(
            "Take numbers off the suppression list: campaigns on this journal may send to "
            "them again. The removal is recorded with its note, beside the addition, "
            "never deleted ('smsframe suppress list --history')."
        ),
        epilog="example:\n  smsframe suppress remove 13800138000 --note 'opted in again'",
        formatter_class=_Formatter,
    )
    numbers(remove, "remove")
    recorded(remove)
    remove.set_defaults(run=_suppress_remove)

    listing = actions.add_parser(
        "list",
        help="list the numbers suppressed now, or every addition and removal",
        description=_wrapped(
            "List the numbers on the suppression list, which no campaign on this journal "
            "sends to: phone, reason, note, since when (China time) and by whom; with "
            "--history, every addition and removal instead."
        ),
        epilog=(
            "example:\n  smsframe suppress list --journal team.sqlite\n"
            "  smsframe suppress list --history --csv suppressions.csv"
        ),
        formatter_class=_Formatter,
    )
    listing.add_argument(
        "--history",
        action="store_true",
        help="every addition and removal, with who and when (default: the numbers suppressed now)",
    )
    listing.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="write it as CSV to FILE, or to stdout if FILE is - (default: a table)",
    )
    listing.add_argument("--journal", metavar=JOURNAL_METAVAR, help=journal_to_read)
    listing.set_defaults(run=_suppress_list)


# -- checks of the arguments, before any work ----------------------------------

# "name:" at the start of a journal without "://": a URL with a typo (sqlite:/x). Two
# characters at least: "C:" starts a Windows path.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_URL_EXAMPLES = "sqlite:///path/journal.sqlite or postgresql://user@host/database"


def _journal(given: str | None, *, to_read: bool) -> str:
    """The journal's URL from ``given`` (--journal), else $SMSFRAME_JOURNAL, else this
    user's journal; checked, so that a mistake is one line saying what to do and never
    a database driver's traceback. ``to_read``: the journal must exist already."""
    text, origin = (given or "").strip(), "--journal"
    if not text:
        text, origin = os.environ.get(JOURNAL_ENV, "").strip(), f"${JOURNAL_ENV}"
    if not text:
        url, origin = default_url(), "your journal"
    else:
        scheme = _SCHEME.match(text)
        if "://" not in text and scheme and not Path(text).expanduser().exists():
            raise CommandError(
                f"{origin} starts as a URL ({scheme.group()}) but has no '://': give a "
                f"file path, or a URL such as {_URL_EXAMPLES}"
            )
        try:
            url = as_url(text)
        except JournalError as error:  # a URL whose password is masked
            raise CommandError(str(error)) from None
    shown = masked(url)
    try:
        where = address(url)
    except InvalidValue as error:
        raise CommandError(f"{origin} {shown}: {error}") from None
    if where.kind == "sqlite":
        _check_sqlite(where, origin, shown, to_read)
    return url


def _check_sqlite(where: Address, origin: str, shown: str, to_read: bool) -> None:
    path = where.file
    if path is None:  # sqlite://x.sqlite: two slashes
        raise CommandError(
            f"{origin} {shown} names no file: write sqlite:/// (three slashes) then the "
            "file's path, or give the path alone"
        )
    if path.is_dir():
        raise CommandError(
            f"{origin} {path} is a folder, not a journal: give a file, e.g. "
            f"{path / 'journal.sqlite'}"
        )
    elsewhere = {
        "--journal": "or leave out --journal to read your own journal",
        f"${JOURNAL_ENV}": f"or give --journal {JOURNAL_METAVAR}",
    }.get(origin, f"or give --journal {JOURNAL_METAVAR}, or set ${JOURNAL_ENV}")
    if not path.parent.is_dir():
        advice = (
            f"check the path, {elsewhere}" if to_read else "create it first, or give another path"
        )
        raise CommandError(f"{origin} {path}: its folder {path.parent} does not exist: {advice}")
    if to_read and not path.is_file():
        if origin == "your journal":
            advice = (
                "no campaign was sent with the default journal yet: give --journal "
                f"{JOURNAL_METAVAR}, or set ${JOURNAL_ENV}"
            )
        else:
            advice = (
                "check the path (a campaign writes its journal, e.g. smsframe demo "
                f"--journal FILE), {elsewhere}"
            )
        raise CommandError(f"no journal at {path} ({origin}): {advice}")


def _output(path: Path | None, option: str, *, folder: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if path is None:
        return
    if folder:
        if path.exists() and not path.is_dir():
            raise CommandError(f"{option} {path} is a file: give a folder for the tables")
        return
    if path.is_dir():
        raise CommandError(f"{option} {path} is a folder: give a file name in it")
    if not path.parent.is_dir():
        raise CommandError(
            f"{option} {path}: its folder {path.parent} does not exist: create it first"
        )
    if option == "--plot" and path.suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if path.suffix.lower().lstrip(".") not in formats:
            raise CommandError(
                f"--plot {path}: charts cannot be saved as {path.suffix}: use .png, .svg, "
                f".pdf or one of {', '.join(sorted(formats))}"
            )


def _written(path: Path, error: OSError) -> CommandError:
    return CommandError(f"cannot write {error.filename or path}: {error.strerror or error}", 1)


# -- the commands ----------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    journal = _journal(args.journal, to_read=False) if args.journal else None
    _output(args.plot, "--plot")
    from smsframe.demo import run

    return run(journal=journal, plot=args.plot)


def _serve(args: argparse.Namespace) -> int:
    from smsframe.simulator import Simulator

    db = Path(args.db)
    if db.is_dir():
        raise CommandError(f"--db {db} is a folder: give a file, e.g. {db / 'sim.sqlite'}")
    if not db.parent.is_dir():
        raise CommandError(
            f"--db {db}: its folder {db.parent} does not exist: create it first, or give "
            "another path"
        )
    try:
        simulator = Simulator(db, host=args.host, port=args.port, latency_ms=args.latency_ms)
    except sqlite3.Error as error:
        raise CommandError(
            f"--db {db} is not a simulator's database ({error}): give another file"
        ) from None
    for account_id, name, password, balance in args.account:
        if not simulator.store.has_account(account_id):
            simulator.add_account(account_id, name, password, balance)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        simulator.start()
    except OSError as error:
        simulator.store.close()
        raise CommandError(
            f"cannot listen on {args.host} port {args.port} ({error.strerror or error}): "
            "give another --port (0 picks a free one) or --host",
            1,
        ) from None
    with simulator:
        print(simulator.wsdl_url, flush=True)
        stop.wait()
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    from smsframe.simulator.server import deliveries_frame
    from smsframe.simulator.store import Store

    db = Path(args.db)
    if not db.is_file():
        raise CommandError(
            f"no simulator database at {db}: give the --db file 'smsframe simulator serve' used"
        )
    try:
        store = Store(db)
    except sqlite3.Error as error:
        raise CommandError(
            f"--db {db} is not a simulator's database ({error}): give the --db file "
            "'smsframe simulator serve' used"
        ) from None
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

    url = _journal(args.journal, to_read=True)
    for path, option in ((args.html, "--html"), (args.plot, "--plot")):
        _output(path, option)
    _output(args.csv, "--csv", folder=True)
    audit = from_journal(url, args.campaign, by=args.by)
    _say(audit)
    if args.csv:
        try:
            args.csv.mkdir(parents=True, exist_ok=True)
            for name in audit.tables:
                audit.to_frame(name).to_csv(args.csv / f"{name}.csv")
        except OSError as error:
            raise _written(args.csv, error) from None
        _say(f"\n{len(audit.tables)} tables written to {args.csv}/")
    if args.html:
        try:
            args.html.write_text(audit.to_html(), encoding="utf-8")
        except OSError as error:
            raise _written(args.html, error) from None
        _say(f"report written to {args.html}")
    if args.plot:
        try:
            audit.plot().savefig(args.plot, dpi=100)
        except OSError as error:
            raise _written(args.plot, error) from None
        _say(f"charts written to {args.plot}")
    return 0


def _campaigns(args: argparse.Namespace) -> int:
    import pandas as pd

    from smsframe.audits import campaigns

    url = _journal(args.journal, to_read=True)
    table = campaigns(url)
    _say(f"journal: {masked(url)}")
    if table.empty:
        _say("no campaigns in this journal")
        return 0
    table["created_at"] = table["created_at"].dt.strftime("%Y-%m-%d %H:%M")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        _say(table.to_string(na_rep=""))
    return 0


# -- the suppression list ----------------------------------------------------------

_SHOWN = 3  # bad values named in a summary, at most
_HOW_TO_GIVE = (
    "give them as arguments (smsframe suppress {verb} 13800138000 '+86 139 0013 8000') "
    "or in a CSV file (--csv FILE --column NAME)"
)


def _given_numbers(args: argparse.Namespace, verb: str):
    """The numbers of the command line then of --csv, as one Series of text."""
    import pandas as pd

    given = [pd.Series(args.numbers, dtype=object)]
    if args.csv is not None:
        given.append(_csv_numbers(args.csv, args.column, args.region))
    numbers = pd.concat(given, ignore_index=True)
    if numbers.empty:
        raise CommandError(f"--csv {args.csv} has no rows: no number to {verb}")
    return numbers


def _csv_numbers(path: Path, column: str, region: str):
    """The numbers of a CSV file (:func:`smsframe.suppression.numbers_in_csv`)."""
    from smsframe.errors import UsageError
    from smsframe.suppression import numbers_in_csv

    if path.is_dir():
        raise CommandError(f"--csv {path} is a folder: give a CSV file")
    try:
        return numbers_in_csv(path, column, region, hint="--column NAME")
    except UsageError as error:
        reason = str(error).removeprefix(str(path)).removeprefix(":").strip()
        raise CommandError(f"--csv {path}: {reason}") from None


def _values(values) -> str:
    """A few values, quoted, their control characters escaped, long ones cut."""
    unique = list(dict.fromkeys(str(value) for value in values))
    shown = [repr(v if len(v) <= 30 else v[:29] + "…") for v in unique[:_SHOWN]]
    return ", ".join(shown) + (", ..." if len(unique) > _SHOWN else "")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _suppress_change(args: argparse.Namespace, verb: str) -> int:
    """``suppress add`` and ``suppress remove``: one summary line on stdout; a line on
    stderr and exit status 1 when some values are no phone numbers."""
    import warnings

    from smsframe.suppression import suppress, unsuppress

    if not args.numbers and args.csv is None:
        raise CommandError(f"no numbers to {verb}: {_HOW_TO_GIVE.format(verb=verb)}")
    url = _journal(args.journal, to_read=verb == "remove")
    numbers = _given_numbers(args, verb)
    options = {"note": args.note, "journal": url, "region": args.region}
    with warnings.catch_warnings():  # the summary below says the same, in its words
        warnings.simplefilter("ignore")
        if verb == "add":
            done = suppress(numbers, reason=args.reason, **options)
        else:
            done = unsuppress(numbers, **options)
    status = done["status"]
    changed, unchanged = (
        ("suppressed", "already_suppressed") if verb == "add" else ("removed", "not_suppressed")
    )
    count = done.loc[status == changed, "sms_e164"].nunique()  # one number in two spellings
    same = done.loc[status == unchanged, "sms_e164"].nunique()
    bad = done.loc[status == "not_a_number", "phone"]
    notes = []
    if same:
        notes.append(
            f"{same} already suppressed"
            if verb == "add"
            else f"{same} {'was' if same == 1 else 'were'} not suppressed"
        )
    if len(bad):
        notes.append(f"{_plural(len(bad), 'not a number', 'not numbers')}: {_values(bad)}")
    where = f"{'in' if verb == 'add' else 'from'} {masked(url)}"
    summary = f"{changed} {_plural(count, 'number', 'numbers')} {where}"
    _say(summary + (f" ({', '.join(notes)})" if notes else ""))
    if not len(bad):
        return 0
    done_verb = "added" if verb == "add" else "removed"
    if count + same:
        rest = f"the other numbers are {'on' if verb == 'add' else 'off'} the list"
    else:
        rest = f"no number was {done_verb}"
    if len(bad) == 1:
        were, them = "value is no phone number and was", "it"
    else:
        were, them = "values are no phone numbers and were", "them"
    return _fail(
        f"{len(bad)} {were} not {done_verb} ({_values(bad)}); {rest}: correct {them} "
        f"and run this command again with {them}",
        1,
    )


def _suppress_add(args: argparse.Namespace) -> int:
    return _suppress_change(args, "add")


def _suppress_remove(args: argparse.Namespace) -> int:
    return _suppress_change(args, "remove")


def _suppress_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from smsframe.codes import CHINA
    from smsframe.journal import existing

    url = _journal(args.journal, to_read=True)
    to_stdout = args.csv is not None and str(args.csv) == "-"
    if not to_stdout:
        _output(args.csv, "--csv")
    journal = existing(url)
    try:
        table = journal.suppressions(history=args.history)
    finally:
        journal.close()
    when = "at" if args.history else "since"
    columns = ["phone", "action", "reason", "note", "at", "by"] if args.history else None
    if columns:  # a journal older than the list: no events, its columns as the list's
        table = table.reindex(columns=columns)
    table[when] = pd.to_datetime(table[when], utc=True).dt.tz_convert(CHINA)
    if args.csv is not None:
        if to_stdout:
            table.to_csv(sys.stdout, index=False)
            return 0
        try:
            table.to_csv(args.csv, index=False)
        except OSError as error:
            raise _written(args.csv, error) from None
        rows = (
            _plural(len(table), "event", "events")
            if args.history
            else (_plural(len(table), "number", "numbers"))
        )
        _say(f"{rows} written to {args.csv}")
        return 0
    if table.empty:
        _say(f"no number {'was ever' if args.history else 'is'} suppressed in {masked(url)}")
        return 0
    count = len(table)
    if args.history:
        _say(f"{_plural(count, 'event', 'events')} of the suppression list of {masked(url)}:")
    else:
        _say(f"{_plural(count, 'number is', 'numbers are')} suppressed in {masked(url)}:")
    table[when] = table[when].dt.strftime("%Y-%m-%d %H:%M")
    table = table.rename(columns={when: f"{when} (China time)"})
    with pd.option_context("display.width", 200, "display.max_columns", None):
        _say(table.to_string(index=False, na_rep=""))
    return 0


# -- the entry point ---------------------------------------------------------------


# The library's advice in its messages, as it reads for this command. Should a wording
# change there, the message is shown as it is: still right, if less to the point.
_IN_CLI = {
    "(journal= or SMSFRAME_JOURNAL)": f"(--journal or ${JOURNAL_ENV})",
    "pass journal= with its full URL": "give --journal its full URL",
    "region must be an ISO": "--region must be an ISO",
}
# A journal's server down: its advice for a campaign, not for reading it (audit, campaigns).
_RUN_AGAIN = "then run the campaign again with the same name: nothing is sent twice"


def _fail(message: str, status: int) -> int:
    """Print ``smsframe: error: MESSAGE`` on one line of stderr; return ``status``."""
    line = _PASSWORD.sub(r"\1***@", " ".join(message.split())) or "failed"
    for library, cli in _IN_CLI.items():
        line = line.replace(library, cli)
    _say(f"smsframe: error: {line}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``smsframe`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as error:
        return _fail(str(error), error.status)
    except UsageError as error:  # smsframe's: an argument it cannot use (a campaign, a column)
        return _fail(str(error), 2)
    except SmsError as error:  # the journal, the provider: each message says what to do
        message = str(error)
        if args.command in ("audit", "campaigns", "suppress"):
            message = message.replace(_RUN_AGAIN, "then run this command again")
        return _fail(message, 1)
    except KeyError as error:  # from the arguments (a name that is not there)
        return _fail(f"not found: {error.args[0] if error.args else error}", 2)
    except (ValueError, FileNotFoundError, PermissionError) as error:  # from the arguments
        if isinstance(error, OSError) and error.filename is not None:
            return _fail(f"{error.strerror}: {error.filename}", 2)
        return _fail(str(error), 2)
    except KeyboardInterrupt as error:  # CampaignInterrupted says what was not sent
        return _fail(f"interrupted{f': {error}' if str(error) else ''}", 130)
    except BrokenPipeError:  # smsframe ... | head: the reader is gone, so be quiet
        with contextlib.suppress(OSError, ValueError):  # no file descriptor (a test's)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
