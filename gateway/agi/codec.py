"""Sans-IO codec for the Asterisk Gateway Interface, server side (FastAGI).

Asterisk opens the connection and writes the environment block: ``agi_network:
yes``, ``agi_network_script: PATH``, the ``agi_*`` variables in a fixed order,
then ``agi_arg_N``, then a blank line (res_agi.c ``setup_env``). From then on the
server sends one command line at a time and Asterisk answers each with one
response: ``200 result=X[ (data)][ endpos=N]``, ``510 Invalid or unknown
command``, ``511 Command Not Permitted on a dead channel``, ``520 ...`` or the
multi-line ``520-Invalid command syntax.  Proper usage follows:`` ... ``520 End of
proper usage.`` (res_agi.c ``agi_handle_command``). When the channel hangs up,
Asterisk writes a bare ``HANGUP`` line (``run_agi``, FastAGI only) where the server
expects an answer, and still answers the command after it.

Commands go in lockstep, or as one final batch. Asterisk reads commands with
``fgets`` on a stdio stream and polls the socket between commands (``run_agi``):
a second command that arrived with the first sits in the stdio buffer, and the
poll does not wake for it until more bytes or the end of the stream arrive. The
recording ``channel-hung-up-during-agi.txt`` shows it: the recording server sent
GET VARIABLE right behind SET VARIABLE, Asterisk answered the first and never the
second. So :meth:`AgiConnection.send` refuses a command while one is outstanding,
and :meth:`AgiConnection.send_final` sends several at once only as the last thing
the server says: the caller half-closes right after, the end of stream keeps the
socket readable, and Asterisk runs every buffered command, answering each, before
it sees the end (the ``server-closes-after-environment`` recording: closing is a
normal end, AGISTATUS=SUCCESS). Answers are matched to commands in order.

Like h11: feed bytes with :meth:`AgiConnection.receive_data`, take events with
:meth:`AgiConnection.next_event`, turn commands into bytes with
:meth:`AgiConnection.send`. No sockets, no clocks.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "MAX_COMMAND_BYTES",
    "NEED_DATA",
    "AgiCommand",
    "AgiConnection",
    "AgiEnvironment",
    "AgiError",
    "AgiResponse",
    "ConnectionClosed",
    "HangupNotice",
    "LocalProtocolError",
    "RemoteProtocolError",
    "State",
    "parse_args",
    "quote_arg",
]

#: res_agi.c reads a command with ``fgets`` into a 2048-byte buffer (AGI_BUF_LEN):
#: a longer line is cut and its tail runs as a second, garbage command.
MAX_COMMAND_BYTES = 2047
#: environment block and single response line limits (a GET VARIABLE answer can be
#: long, an environment is ~600 bytes in practice)
MAX_ENV_BYTES = 32 * 1024
MAX_LINE_BYTES = 16 * 1024
MAX_USAGE_BYTES = 64 * 1024

HANGUP_LINE = b"HANGUP"
END_OF_USAGE = b"520 End of proper usage."


# --- errors ---------------------------------------------------------------------


class AgiError(Exception):
    """A broken AGI exchange. ``code`` is the AGI status code concerned (the code
    of the offending response, or 0 when there is none: environment, garbage);
    ``data`` the offending bytes."""

    def __init__(self, message: str, *, code: int = 0, data: bytes = b"") -> None:
        super().__init__(message)
        self.code = code
        self.data = data

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (code {self.code}, data {self.data[:80]!r})"


class RemoteProtocolError(AgiError):
    """Asterisk (the peer) sent something the protocol does not allow."""


class LocalProtocolError(AgiError):
    """We tried to send something the protocol does not allow."""


# --- events ---------------------------------------------------------------------


class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA = _NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The block Asterisk sends first. ``variables`` keeps every ``agi_*`` line in
    the order received (keys without the ``agi_`` prefix); ``args`` are
    ``agi_arg_1..N``."""

    variables: tuple[tuple[str, str], ...]
    args: tuple[str, ...] = ()
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self._index:
            self._index.update(reversed(self.variables))  # the first of a repeated key wins

    def get(self, name: str, default: str = "") -> str:
        return self._index.get(name, default)

    @property
    def network(self) -> bool:
        return self.get("network") == "yes"

    @property
    def script(self) -> str:
        """``agi_network_script``: the path after host:port, without the leading
        ``/`` and without the query string (``inbound``)."""
        return self.get("network_script").split("?", 1)[0].strip("/")

    @property
    def request(self) -> str:
        return self.get("request")

    @property
    def channel(self) -> str:
        return self.get("channel")

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")

    @property
    def callerid(self) -> str:
        return self.get("callerid")

    @property
    def callingpres(self) -> int:
        value = self.get("callingpres", "0")
        return int(value) if value.isdigit() else 0

    @property
    def context(self) -> str:
        return self.get("context")

    @property
    def extension(self) -> str:
        return self.get("extension")

    @property
    def type(self) -> str:
        return self.get("type")

    def arg(self, n: int, default: str = "") -> str:
        """``agi_arg_n`` (1-based), ``default`` when absent."""
        return self.args[n - 1] if 0 < n <= len(self.args) else default


@dataclass(frozen=True, slots=True)
class AgiResponse:
    """One answer to a command. ``result`` is the text after ``result=`` (``"1"``,
    ``"-1"``, ``""``, ``"*123"``); ``data`` the parenthesised value if any;
    ``endpos`` the ``endpos=`` attribute if any; ``text`` everything after the code
    (for 5xx the message, for 520 multi-line the usage text); ``raw`` the bytes
    exactly as received."""

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    text: str = ""
    raw: bytes = b""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def dead_channel(self) -> bool:
        return self.code == 511

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """The bare ``HANGUP`` line: the channel is gone. The pending command (if any)
    is still answered; later commands run in dead mode (511 for most)."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """Asterisk closed its side (end of stream, nothing left over)."""


@dataclass(frozen=True, slots=True)
class AgiCommand:
    """A command line to send, already split into words. The line is built (and
    checked) once, at construction: words quoted the way Asterisk's ``parse_args``
    reads them back, at most ``MAX_COMMAND_BYTES``; a word that cannot travel
    raises ``LocalProtocolError`` here."""

    words: tuple[str, ...]
    line: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        line = " ".join(map(quote_arg, self.words)).encode("utf-8", "surrogateescape")
        if len(line) + 1 > MAX_COMMAND_BYTES:
            raise LocalProtocolError(
                f"command longer than {MAX_COMMAND_BYTES} bytes", data=line[:200]
            )
        object.__setattr__(self, "line", line + b"\n")

    @classmethod
    def set_variable(cls, name: str, value: str) -> AgiCommand:
        return cls(("SET", "VARIABLE", name, value))

    def encode(self) -> bytes:
        return self.line


Event = AgiEnvironment | AgiResponse | HangupNotice | ConnectionClosed


# --- quoting, as res_agi.c parse_args reads it ------------------------------------

_SPECIAL = re.compile(r'[\s"\\\x00]')  # \s covers CR and LF
_FORBIDDEN = re.compile(r"[\r\n\x00]")


def quote_arg(word: str) -> str:
    """Quote one word of a command so ``parse_args`` gives it back unchanged.

    Bare when it can be (``BLOCK`` stays ``BLOCK``); otherwise in double quotes
    with ``\\`` and ``"`` escaped by a backslash. CR, LF and NUL cannot travel in
    a command line (the line ends there) and raise ``LocalProtocolError``.
    """
    if word and _SPECIAL.search(word) is None:
        return word  # the common case: one scan
    if _FORBIDDEN.search(word):
        raise LocalProtocolError("CR, LF or NUL in a command word", data=word.encode()[:200])
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_args(line: str) -> list[str]:
    """Split a command line exactly as res_agi.c ``parse_args`` does.

    Double quotes toggle quoting (a quote opening after whitespace starts a word,
    so ``""`` is an empty word); a backslash makes the next character literal;
    unquoted spaces and tabs separate words. Used by tests and by the replaying
    client to read what the server sent the way Asterisk would.
    """
    words: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:  # a quote coming off whitespace starts a word
                words.append([])
                whitespace = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            words.append([])
            whitespace = False
        words[-1].append(ch)
        escaped = False
    return ["".join(w) for w in words]


# --- response parsing -------------------------------------------------------------

_RESULT = re.compile(
    rb"^200 result=(?P<result>\S*)(?: \((?P<data>.*)\))?(?P<attrs>(?: [A-Za-z_]+=\S*)*)$",
    re.DOTALL,
)
_CODE = re.compile(rb"^(?P<code>[1-9][0-9]{2})(?P<sep>[ -]|$)(?P<text>.*)$", re.DOTALL)
_ENDPOS = re.compile(rb" endpos=(-?[0-9]+)")
#: one environment line: ``agi_`` name, a colon, one optional space, the value
_ENV_LINE = re.compile(r"^agi_([A-Za-z0-9_]+): ?([^\n]*)\n", re.MULTILINE)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


#: the answer to nearly every command the gateway sends (SET VARIABLE)
_SUCCESS = b"200 result=1"
_SUCCESS_RESPONSE = AgiResponse(200, "1", None, None, "result=1", _SUCCESS + b"\n")


def parse_response_line(line: bytes) -> AgiResponse:
    """One single-line response (without its newline)."""
    if line == _SUCCESS:
        return _SUCCESS_RESPONSE  # immutable: safe to share
    m = _CODE.match(line)
    if m is None:
        raise RemoteProtocolError("not an AGI response", data=line)
    code = int(m["code"])
    if code == 200:
        r = _RESULT.match(line)
        if r is None:
            # e.g. SPEECH RECOGNIZE: "200 result=1 (speech) endpos=0 results=1 score0=…"
            if not line.startswith(b"200 result="):
                raise RemoteProtocolError("200 without result=", code=200, data=line)
            rest = line[len(b"200 result=") :]
            result, _, tail = rest.partition(b" ")
            endpos = _ENDPOS.search(b" " + tail)
            return AgiResponse(
                200,
                _text(result),
                None,
                int(endpos[1]) if endpos else None,
                _text(line[4:]),
                line + b"\n",
            )
        endpos = _ENDPOS.search(r["attrs"])
        data = r["data"]
        return AgiResponse(
            200,
            _text(r["result"]),
            _text(data) if data is not None else None,
            int(endpos[1]) if endpos else None,
            _text(line[4:]),
            line + b"\n",
        )
    return AgiResponse(code, text=_text(m["text"]), raw=line + b"\n")


# --- the connection state machine ---------------------------------------------------


class State(enum.Enum):
    ENVIRONMENT = "environment"  # reading the agi_* block
    IDLE = "idle"  # no command outstanding
    AWAITING = "awaiting"  # a command sent, its answer not yet read
    USAGE = "usage"  # inside a 520- multi-line answer
    CLOSED = "closed"  # peer closed, or a protocol error
    ERROR = "error"


class AgiConnection:
    """Server side of one FastAGI connection.

    ``receive_data(b"")`` marks the end of the stream. ``next_event()`` returns
    one event or ``NEED_DATA``; after a ``RemoteProtocolError`` the connection is
    in ``State.ERROR`` and raises again.
    """

    __slots__ = (
        "_buf", "_eof", "_final", "_outstanding", "_usage", "_usage_bytes", "hangup", "state",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._eof = False
        self._usage: list[bytes] = []
        self._usage_bytes = 0
        self._outstanding: deque[AgiCommand] = deque()
        self._final = False  # send_final was called: nothing more may be sent
        self.state = State.ENVIRONMENT
        #: a HANGUP notice has been seen: the channel is gone
        self.hangup = False

    # -- input --------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if self._eof and data:
            raise LocalProtocolError("data after end of stream", data=bytes(data[:80]))
        if data:
            self._buf += data
        else:
            self._eof = True

    def _fail(self, message: str, data: bytes, code: int = 0) -> None:
        self.state = State.ERROR
        raise RemoteProtocolError(message, code=code, data=data)

    def next_event(self) -> Event | _NeedData:
        state = self.state
        if state is State.ERROR:
            raise RemoteProtocolError("connection already failed")
        if state is State.CLOSED:
            return ConnectionClosed()
        if state is State.ENVIRONMENT:
            env = self._environment()
            if env is not None:
                return env
            if not self._eof:
                return NEED_DATA
            self.state = State.CLOSED  # connected and closed without a word
            return ConnectionClosed()
        while True:
            line = self._line()
            if line is None:
                if not self._eof:
                    return NEED_DATA
                if self._buf:
                    self._fail("stream ended in the middle of a line", bytes(self._buf[:200]))
                if self.state is State.USAGE:
                    self._fail("stream ended in the middle of a 520 usage text", b"", 520)
                self.state = State.CLOSED
                return ConnectionClosed()
            event = self._handle(line)
            if event is not None:
                return event

    def _environment(self) -> AgiEnvironment | None:
        """The whole block at once when its blank line is in: one split, no
        per-line bookkeeping (this is the hot path of every screening)."""
        buf = self._buf
        end = buf.find(b"\n\n")
        if end < 0:
            if buf[:1] == b"\n":
                self._fail("empty environment", b"\n")
            head = bytes(buf[:4])
            if head and not b"agi_".startswith(head):
                # refuse a TLS hello or an HTTP request at once, not at the timeout
                self._fail("not an agi_ environment line", bytes(buf[:200]))
            if len(buf) > MAX_ENV_BYTES:
                self._fail("environment too long", bytes(buf[:200]))
            if self._eof and buf:
                self._fail("stream ended in the middle of the environment", bytes(buf[-200:]))
            return None
        if end + 2 > MAX_ENV_BYTES:
            self._fail("environment too long", bytes(buf[:200]))
        block = bytes(buf[:end + 1]).decode("utf-8", "surrogateescape")
        del buf[: end + 2]
        pairs = _ENV_LINE.findall(block)
        if len(pairs) != block.count("\n"):  # some line is not "agi_name: value"
            for line in block.split("\n"):
                if not _ENV_LINE.fullmatch(line + "\n"):
                    self._fail("not an agi_ environment line",
                               line.encode("utf-8", "surrogateescape"))
        variables: list[tuple[str, str]] = []
        args: dict[int, str] = {}
        for key, value in pairs:
            if key[:4] == "arg_" and key[4:].isdigit():
                args[int(key[4:])] = value
            else:
                variables.append((key, value))
        self.state = State.IDLE
        ordered = tuple(args[i] for i in sorted(args))
        return AgiEnvironment(tuple(variables), ordered)

    def _line(self) -> bytes | None:
        i = self._buf.find(b"\n")
        if i < 0:
            if len(self._buf) > MAX_LINE_BYTES:
                self._fail("line too long", bytes(self._buf[:200]))
            return None
        line = bytes(self._buf[:i])
        del self._buf[: i + 1]
        if line[-1:] == b"\r":  # tolerated: Asterisk sends bare LF
            line = line[:-1]
        return line

    def _handle(self, line: bytes) -> Event | None:
        state = self.state
        if state is State.USAGE:
            self._usage.append(line)
            self._usage_bytes += len(line) + 1
            if self._usage_bytes > MAX_USAGE_BYTES:
                self._fail("520 usage text too long", line, 520)
            if line.endswith(END_OF_USAGE):
                text = b"\n".join(self._usage[1:])
                raw = b"".join(u + b"\n" for u in self._usage)
                self._usage = []
                self._answered()
                return AgiResponse(520, text=_text(text), raw=raw)
            return None
        if line == HANGUP_LINE:
            self.hangup = True
            return HangupNotice()
        if state is State.IDLE:
            self._fail("response with no command outstanding", line)
        if line[:4] == b"520-":
            self.state = State.USAGE
            self._usage = [line]
            self._usage_bytes = len(line) + 1
            return None
        try:
            response = parse_response_line(line)
        except RemoteProtocolError:
            self.state = State.ERROR
            raise
        self._answered()
        return response

    def _answered(self) -> None:
        self._outstanding.popleft()
        self.state = State.AWAITING if self._outstanding else State.IDLE

    # -- output -------------------------------------------------------------------

    @property
    def outstanding(self) -> AgiCommand | None:
        """The command the next answer belongs to, if any."""
        return self._outstanding[0] if self._outstanding else None

    @property
    def pending(self) -> int:
        """How many commands still wait for their answer."""
        return len(self._outstanding)

    def _check_send(self) -> None:
        if self.state is State.ENVIRONMENT:
            raise LocalProtocolError("command before the environment was read")
        if self.state in (State.CLOSED, State.ERROR):
            raise LocalProtocolError(f"command on a {self.state.value} connection")
        if self._final:
            raise LocalProtocolError("command after send_final (the sending side is done)")
        if self._outstanding:
            raise LocalProtocolError(
                "command while another is outstanding (Asterisk reads in lockstep)",
                data=self._outstanding[0].encode(),
            )

    def send(self, command: AgiCommand) -> bytes:
        """One command; its answer must be read before the next is sent."""
        self._check_send()
        data = command.encode()
        self._outstanding.append(command)
        self.state = State.AWAITING
        return data

    def send_final(self, commands: Sequence[AgiCommand]) -> bytes:
        """The last commands of the session, all at once. The caller must end its
        sending side (half-close) right after writing them: the end of stream is
        what makes Asterisk run the ones behind the first (see the module doc).
        Their answers come back in order, then Asterisk closes."""
        self._check_send()
        data = b"".join(c.encode() for c in commands)
        self._outstanding.extend(commands)
        self._final = True
        if commands:
            self.state = State.AWAITING
        return data


def encode_environment(
    variables: Iterable[tuple[str, str]], args: Iterable[str] = ()
) -> bytes:
    """The environment block as Asterisk writes it (for tests and the benchmark's
    Asterisk-like client)."""
    out = [f"agi_{k}: {v}\n" for k, v in variables]
    out += [f"agi_arg_{i}: {a}\n" for i, a in enumerate(args, 1)]
    out.append("\n")
    return "".join(out).encode("utf-8", "surrogateescape")
