"""The AGI codec against real Asterisk 22.10.1 bytes, res_agi.c's formats, and
fuzzing. Bytes in, events out: no sockets."""

from __future__ import annotations

import pytest
from agi_support import load_transcript, transcripts
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.agi.codec import (
    NEED_DATA,
    AgiCommand,
    AgiConnection,
    AgiEnvironment,
    AgiError,
    AgiResponse,
    ConnectionClosed,
    HangupNotice,
    LocalProtocolError,
    RemoteProtocolError,
    State,
    encode_environment,
    parse_args,
    quote_arg,
)


def events(conn: AgiConnection) -> list[object]:
    out: list[object] = []
    while (ev := conn.next_event()) is not NEED_DATA:
        out.append(ev)
        if isinstance(ev, ConnectionClosed):
            break
    return out


def replay(name: str, index: int) -> tuple[AgiConnection, list[object], list[bytes]]:
    """Feed one recorded connection to the codec as the recording server saw it:
    Asterisk's bytes in; each command the recording server sent goes through
    ``parse_args`` (how Asterisk read it) and our encoder, which must give the
    recorded bytes back. Returns the events and the commands sent."""
    conn = AgiConnection()
    seen: list[object] = []
    sent: list[bytes] = []
    for direction, data in load_transcript(name)[index].steps:
        if direction == "<":
            conn.receive_data(data)
            seen += events(conn)
        elif direction == ">":
            cmd = AgiCommand(tuple(parse_args(data.rstrip(b"\n").decode())))
            assert cmd.encode() == data
            try:
                sent.append(conn.send(cmd))
            except LocalProtocolError:
                sent.append(b"REFUSED " + data)
    return conn, seen, sent


@pytest.mark.parametrize("name", transcripts())
def test_every_recorded_environment_parses(name: str) -> None:
    for i, recorded in enumerate(load_transcript(name)):
        conn = AgiConnection()
        conn.receive_data(recorded.environment)
        (env,) = events(conn)
        assert isinstance(env, AgiEnvironment)
        assert env.network
        assert env.variables[0] == ("network", "yes")
        assert env.variables[1][0] == "network_script"
        assert env.request.startswith("agi://127.0.0.1:4573/")
        assert env.get("version") == "22.10.1"
        assert env.get("accountcode") == ""  # "agi_accountcode: \n"
        assert conn.state is State.IDLE, (name, i)
        # round trip: the block we would write is the block Asterisk wrote
        assert encode_environment(env.variables, env.args) == recorded.environment


def test_inbound_session_replayed_byte_for_byte() -> None:
    conn, seen, _ = replay("normal-and-hangup-handler.txt", 0)
    env = seen[0]
    assert isinstance(env, AgiEnvironment)
    assert env.script == "inbound"
    assert env.args == ("trunk-intl", "extra arg")
    assert env.callerid == "+2250700000001"
    assert env.extension == "447700900123"
    assert env.uniqueid == "1795361515.1"
    assert [type(e) for e in seen[1:]] == [AgiResponse] * 5
    get, setvar, _verbose, foobar, full = seen[1:]
    assert isinstance(get, AgiResponse) and (get.code, get.result, get.data) == (
        200, "1", "+2250700000001")
    assert isinstance(setvar, AgiResponse) and (setvar.code, setvar.data) == (200, None)
    assert isinstance(foobar, AgiResponse) and foobar.code == 510
    assert foobar.text == "Invalid or unknown command"
    assert isinstance(full, AgiResponse)
    assert full.data == "Local/447700900123@screen-in-00000000;2"  # ';' and '/' kept
    assert b"".join(r.raw for r in seen[1:] if isinstance(r, AgiResponse)) == b"".join(
        load_transcript("normal-and-hangup-handler.txt")[0].sent_by_asterisk()[25:])
    assert not conn.hangup


def test_hangup_handler_keeps_uniqueid_and_empty_dialstatus() -> None:
    _, seen, _ = replay("normal-and-hangup-handler.txt", 1)
    env = seen[0]
    assert isinstance(env, AgiEnvironment)
    assert (env.script, env.extension, env.context) == ("ended", "s", "spamgw-ended")
    assert env.uniqueid == "1795361515.1"
    assert env.args == ("", "1", "0")  # no Dial ran: DIALSTATUS empty


def test_wangiri_ring_and_answered_call_endings() -> None:
    _, seen, _ = replay("wangiri-ring-4s-caller-hangs-up.txt", 1)
    assert isinstance(seen[0], AgiEnvironment) and seen[0].args == ("CANCEL", "4", "0")
    _, seen, _ = replay("answered-international-call.txt", 1)
    assert isinstance(seen[0], AgiEnvironment) and seen[0].args == ("ANSWER", "3", "1")


def test_hangup_mid_session_is_a_notice_and_the_command_is_still_answered() -> None:
    conn, seen, sent = replay("channel-hung-up-during-agi.txt", 0)
    # The recording server sent GET VARIABLE after the HANGUP line, before the
    # answer to SET VARIABLE: it took HANGUP for the answer, then read the answer
    # to SET VARIABLE as the answer to GET VARIABLE and hung in a timeout. The
    # codec refuses the second command (lockstep) and gives the answer to the
    # command it belongs to.
    assert sent[0] == b"SET VARIABLE SPAMGW_ACTION ALLOW\n"
    assert sent[1] == b"REFUSED GET VARIABLE CALLERID(num)\n"
    assert [type(e) for e in seen] == [AgiEnvironment, HangupNotice, AgiResponse]
    answer = seen[2]
    assert isinstance(answer, AgiResponse) and answer.ok and answer.result == "1"
    assert conn.hangup
    assert conn.state is State.IDLE and conn.outstanding is None


def test_dead_channel_511() -> None:
    conn = AgiConnection()
    conn.receive_data(load_transcript("channel-hung-up-during-agi.txt")[0].environment)
    events(conn)
    conn.send(AgiCommand(("STREAM", "FILE", "beep", "")))
    conn.receive_data(b"HANGUP\n511 Command Not Permitted on a dead channel\n")
    notice, answer = events(conn)
    assert isinstance(notice, HangupNotice)
    assert isinstance(answer, AgiResponse)
    assert answer.code == 511 and answer.dead_channel and not answer.ok
    assert answer.text == "Command Not Permitted on a dead channel"
    assert answer.raw == b"511 Command Not Permitted on a dead channel\n"


def test_server_that_closes_or_stays_silent_sees_only_the_environment() -> None:
    for name in ("server-closes-after-environment.txt", "server-silent-8s.txt"):
        conn, seen, sent = replay(name, 0)
        assert [type(e) for e in seen] == [AgiEnvironment] and sent == []
        env = seen[0]
        assert isinstance(env, AgiEnvironment)
        assert env.callerid == "unknown" and env.callingpres == 67 and env.args == ()
        conn.receive_data(b"")
        assert isinstance(conn.next_event(), ConnectionClosed)


def _idle() -> AgiConnection:
    conn = AgiConnection()
    conn.receive_data(load_transcript("server-silent-8s.txt")[0].environment)
    events(conn)
    return conn


def test_520_usage_single_and_multi_line() -> None:
    conn = _idle()
    conn.send(AgiCommand(("SET", "VARIABLE")))
    conn.receive_data(b"520 Invalid command syntax.  Proper usage not available.\n")
    (r,) = events(conn)
    assert isinstance(r, AgiResponse) and r.code == 520
    conn.send(AgiCommand(("DATABASE", "DEL")))
    usage = (b"520-Invalid command syntax.  Proper usage follows:\n"
             b" Usage: DATABASE DEL <family> <key>\n"
             b" Deletes an entry in the Asterisk database.\n"
             b"520 End of proper usage.\n")
    for i in range(len(usage)):  # byte by byte: no event until the last line
        conn.receive_data(usage[i:i + 1])
        got = events(conn)
        assert got == [] or i == len(usage) - 1
    assert isinstance(got[0], AgiResponse)
    assert got[0].code == 520 and got[0].raw == usage
    assert "DATABASE DEL <family> <key>" in got[0].text
    # usage text without its final newline runs into the end marker (XML docs)
    conn.send(AgiCommand(("ANSWER", "x")))
    conn.receive_data(b"520-Invalid command syntax.  Proper usage follows:\n"
                      b"Answers channel.520 End of proper usage.\n")
    (r,) = events(conn)
    assert isinstance(r, AgiResponse) and r.code == 520 and conn.state is State.IDLE


def test_200_variants() -> None:
    conn = _idle()
    cases = {
        b"200 result=0\n": ("0", None, None),
        b"200 result=-1\n": ("-1", None, None),
        b"200 result= (timeout)\n": ("", "timeout", None),
        b"200 result=0 endpos=8000\n": ("0", None, 8000),
        b"200 result=1 (dtmf) endpos=67890\n": ("1", "dtmf", 67890),
        b"200 result=1 (a (nested) value)\n": ("1", "a (nested) value", None),
        b"200 result=1 (speech) endpos=1234 results=foo bar\n": ("1", None, 1234),
    }
    for raw, (result, data, endpos) in cases.items():
        conn.send(AgiCommand(("NOOP",)))
        conn.receive_data(raw)
        (r,) = events(conn)
        assert isinstance(r, AgiResponse)
        assert (r.result, r.data, r.endpos) == (result, data, endpos), raw
        assert r.raw == raw


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\n", b"\n", b"agi_network yes\n\n", b"agi_x: 1\nfoo: 2\n\n", b"\x00\xff\n",
    b"SSH-2.0-OpenSSH_9.6\r\n",
])
def test_garbage_instead_of_environment_is_a_typed_error(garbage: bytes) -> None:
    conn = AgiConnection()
    conn.receive_data(garbage)
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.data and info.value.data in garbage
    assert conn.state is State.ERROR
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_bad_responses_are_typed_errors_with_code_and_bytes() -> None:
    conn = _idle()
    conn.receive_data(b"200 result=1\n")  # nothing outstanding
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.data == b"200 result=1"
    conn = _idle()
    conn.send(AgiCommand(("NOOP",)))
    conn.receive_data(b"200 okay\n")
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.code == 200 and info.value.data == b"200 okay"


def test_truncated_streams() -> None:
    conn = AgiConnection()
    conn.receive_data(b"agi_network: yes\nagi_netw")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    conn = AgiConnection()
    conn.receive_data(b"agi_network: yes\n")
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_overlong_input_is_refused_without_waiting_for_a_newline() -> None:
    conn = AgiConnection()
    conn.receive_data(b"agi_x: " + b"a" * 40_000)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_local_errors() -> None:
    conn = AgiConnection()
    with pytest.raises(LocalProtocolError):
        conn.send(AgiCommand(("NOOP",)))  # before the environment
    conn = _idle()
    conn.send(AgiCommand(("NOOP",)))
    with pytest.raises(LocalProtocolError):
        conn.send(AgiCommand(("NOOP",)))  # lockstep
    with pytest.raises(LocalProtocolError):
        AgiCommand.set_variable("X", "a\nHANGUP").encode()
    with pytest.raises(LocalProtocolError):
        AgiCommand.set_variable("X", "a" * 3000).encode()


def test_quoting_matches_what_asterisk_reads() -> None:
    assert AgiCommand.set_variable("SPAMGW_ACTION", "BLOCK").encode() == (
        b"SET VARIABLE SPAMGW_ACTION BLOCK\n")
    assert AgiCommand.set_variable("SPAMGW_REASON", 'to "premium" \\ +882').encode() == (
        b'SET VARIABLE SPAMGW_REASON "to \\"premium\\" \\\\ +882"\n')
    assert AgiCommand.set_variable("SPAMGW_RULES", "").encode() == b'SET VARIABLE SPAMGW_RULES ""\n'
    assert parse_args('SET VARIABLE SPAMGW_RULES ""') == ["SET", "VARIABLE", "SPAMGW_RULES", ""]
    assert parse_args('a"b c"d  e\\ f') == ["ab cd", "e f"]


# --- fuzzing ----------------------------------------------------------------------

_word = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
                max_size=40)


@given(st.lists(_word, min_size=1, max_size=6))
def test_any_words_survive_asterisk_parse_args(words: list[str]) -> None:
    line = AgiCommand(tuple(words)).encode()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_args(line[:-1].decode()) == words
    assert parse_args(" ".join(quote_arg(w) for w in words)) == words


_key = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda k: not k.startswith("arg_"))
_value = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                 max_size=60)


@given(st.lists(st.tuples(_key, _value), min_size=1, max_size=25),
       st.lists(_value, max_size=5), st.data())
@settings(max_examples=200)
def test_environment_round_trip_in_any_chunking(variables: list[tuple[str, str]],
                                                args: list[str], data: st.DataObject) -> None:
    block = encode_environment(variables, args)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(block)), max_size=8)))
    conn = AgiConnection()
    got: list[object] = []
    prev = 0
    for cut in [*cuts, len(block)]:
        if cut > prev:  # an empty chunk would mean end of stream
            conn.receive_data(block[prev:cut])
        prev = cut
        got += events(conn)
    (env,) = got
    assert isinstance(env, AgiEnvironment)
    assert env.variables == tuple(variables)
    assert env.args == tuple(args)


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_random_bytes_never_crash_the_codec(blob: bytes) -> None:
    for conn in (AgiConnection(), _idle()):
        if conn.state is State.IDLE:
            conn.send(AgiCommand(("NOOP",)))
        try:
            conn.receive_data(blob)
            conn.receive_data(b"")
            for _ in range(400):
                ev = conn.next_event()
                if isinstance(ev, ConnectionClosed) or ev is NEED_DATA:
                    break
                if conn.state is State.IDLE and not isinstance(ev, HangupNotice):
                    conn.send(AgiCommand(("NOOP",)))
        except AgiError as e:
            assert isinstance(e.data, bytes) and isinstance(e.code, int)


@given(st.lists(st.sampled_from([
    b"200 result=1\n", b"200 result=1 (x y)\n", b"HANGUP\n", b"510 Invalid or unknown command\n",
    b"511 Command Not Permitted on a dead channel\n",
    b"520-Invalid command syntax.  Proper usage follows:\nusage\n520 End of proper usage.\n",
]), min_size=1, max_size=20), st.integers(1, 7))
def test_response_streams_in_any_chunk_size(responses: list[bytes], chunk: int) -> None:
    conn = _idle()
    answers = [r for r in responses if r != b"HANGUP\n"]
    stream = b"".join(responses)
    got: list[object] = []
    conn.send(AgiCommand(("NOOP",)))
    for i in range(0, len(stream), chunk):
        conn.receive_data(stream[i:i + chunk])
        while (ev := conn.next_event()) is not NEED_DATA:
            got.append(ev)
            if isinstance(ev, AgiResponse):
                conn.send(AgiCommand(("NOOP",)))
    assert [r.raw for r in got if isinstance(r, AgiResponse)] == answers
    assert sum(isinstance(e, HangupNotice) for e in got) == responses.count(b"HANGUP\n")


def test_send_final_pipelines_and_matches_answers_in_order() -> None:
    conn = _idle()
    cmds = [AgiCommand.set_variable("A", "1"), AgiCommand.set_variable("B", "x y")]
    assert conn.send_final(cmds) == b'SET VARIABLE A 1\nSET VARIABLE B "x y"\n'
    assert conn.pending == 2 and conn.outstanding == cmds[0]
    with pytest.raises(LocalProtocolError):
        conn.send(AgiCommand(("NOOP",)))  # the sending side is done
    conn.receive_data(b"200 result=1\nHANGUP\n511 Command Not Permitted on a dead channel\n")
    first = conn.next_event()
    assert isinstance(first, AgiResponse) and first.ok
    assert isinstance(conn.next_event(), HangupNotice) and conn.outstanding == cmds[1]
    second = conn.next_event()
    assert isinstance(second, AgiResponse) and second.dead_channel
    assert conn.pending == 0 and conn.state is State.IDLE
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_the_recorded_stall_is_what_lockstep_prevents() -> None:
    # channel-hung-up-during-agi.txt: the recording server sent GET VARIABLE right
    # behind SET VARIABLE; Asterisk answered only SET VARIABLE (its fgets buffered
    # both, its poll waited for more bytes) and the server timed out.
    steps = load_transcript("channel-hung-up-during-agi.txt")[0].steps
    sent = [b for d, b in steps if d == ">"]
    answers = [b for d, b in steps if d == "<"][-2:]
    assert sent == [b"SET VARIABLE SPAMGW_ACTION ALLOW\n", b"GET VARIABLE CALLERID(num)\n"]
    assert answers == [b"HANGUP\n", b"200 result=1\n"]  # one answer for two commands
    assert steps[-2] == ("!", b"TimeoutError()")
