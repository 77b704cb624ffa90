"""``gateway.frozen.constructor``: the same objects as the dataclass ``__init__``."""

import dataclasses

import pytest

from gateway.frozen import constructor
from gateway.model import Channel, Direction, Event, Phase
from gateway.numbers import Number, Numbering, NumberKind
from gateway.smpp.pdu import SubmitSm


def _all_fields(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


@pytest.mark.parametrize("obj", [
    Number("+447700900123", NumberKind.E164, "447700900123", 5, 44, "GB", False, True, "x"),
    Event(channel=Channel.SMS, direction=Direction.IN, src=Numbering("GB").parse("7726"),
          dst=Numbering("GB").parse("+447700900123"), text="hi", route="r",
          phase=Phase.ATTEMPT, ts=1.5, parts=2, details={"a": 1}),
    SubmitSm(sequence_number=7, source_addr="a", destination_addr="b", esm_class=0x40,
             short_message=b"xy", tlvs=((0x424, b"z"),)),
])
def test_constructor_builds_equal_frozen_objects(obj: object) -> None:
    make = constructor(type(obj))
    made = make(**_all_fields(obj))
    assert type(made) is type(obj)
    assert made == obj
    if not isinstance(obj, Event):  # an event's details are a dict: events do not hash
        assert hash(made) == hash(obj)
    assert _all_fields(made) == _all_fields(obj)
    fields = _all_fields(obj)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, next(iter(fields)), "changed")
    fields.pop(next(iter(fields)))
    with pytest.raises(TypeError):
        make(**fields)  # every field is required


def test_constructor_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, PostInit):
        with pytest.raises(TypeError):
            constructor(cls)
