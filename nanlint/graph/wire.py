"""Protobuf wire-format surgery for large .onnx files: turn the weights stored inside the file into
external-data references to the file itself, so that parsing copies only the graph structure and the
weights are memory-mapped (read lazily, never copied) like real external data.

Only the raw_data of main-graph initializers is moved; everything else is copied byte for byte. Any
surprise in the encoding returns None and the caller parses the file normally.
"""

from __future__ import annotations

# Field numbers (onnx.proto): ModelProto.graph = 7, GraphProto.initializer = 5,
# TensorProto.raw_data = 9, .external_data = 13, .data_location = 14; StringStringEntryProto key = 1, value = 2.
_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 7, 5, 9, 13, 14
_LEN, _VARINT, _I64, _I32 = 2, 0, 1, 5
_EXTERNAL = 1  # TensorProto.EXTERNAL

# Only raw_data fields at least this large move out (small tensors feed shape inference).
MIN_MOVED_BYTES = 16 * 1024


class _Malformed(Exception):
    pass


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf, start: int, end: int):
    """(field number, wire type, field start, payload start, payload end) for each field in [start, end)."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, after = _varint(buf, pos, end)
            yield number, wire, field_start, pos, after
            pos = after
        elif wire == _I64:
            yield number, wire, field_start, pos, pos + 8
            pos += 8
        elif wire == _I32:
            yield number, wire, field_start, pos, pos + 4
            pos += 4
        elif wire == _LEN:
            length, payload = _varint(buf, pos, end)
            yield number, wire, field_start, payload, payload + length
            pos = payload + length
        else:
            raise _Malformed
        if pos > end:
            raise _Malformed


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint((number << 3) | _LEN) + _encode_varint(len(payload)) + payload


def _entry(key: str, value: str) -> bytes:
    return _len_field(_TENSOR_EXTERNAL, _len_field(1, key.encode()) + _len_field(2, value.encode()))


def _tensor(buf, start: int, end: int, location: str) -> bytes | None:
    """The TensorProto bytes with a large raw_data replaced by an external reference, or None to keep it."""
    raw, dropped = None, []
    for number, wire, field_start, payload, payload_end in _fields(buf, start, end):
        if number == _TENSOR_RAW and wire == _LEN:
            if raw is not None:
                raise _Malformed  # repeated raw_data: leave to protobuf
            raw = (field_start, payload, payload_end)
        elif number == _TENSOR_EXTERNAL:
            return None
        elif number == _TENSOR_LOCATION:
            if wire != _VARINT or _varint(buf, payload, payload_end)[0] != 0:
                return None  # already external (or not understood)
            dropped.append((field_start, payload_end))  # an explicit DEFAULT location: ours replaces it
    if raw is None or raw[2] - raw[1] < MIN_MOVED_BYTES:
        return None
    field_start, payload, payload_end = raw
    kept = _without(buf, start, end, [(field_start, payload_end), *dropped])
    return (
        kept
        + _entry("location", location)
        + _entry("offset", str(payload))
        + _entry("length", str(payload_end - payload))
        + _encode_varint((_TENSOR_LOCATION << 3) | _VARINT)
        + _encode_varint(_EXTERNAL)
    )


def _without(buf, start: int, end: int, spans: list[tuple[int, int]]) -> bytes:
    """The bytes of [start, end) without the given (start, end) spans."""
    parts, last = [], start
    for span_start, span_end in sorted(spans):
        parts.append(bytes(buf[last:span_start]))
        last = span_end
    parts.append(bytes(buf[last:end]))
    return b"".join(parts)


def externalize_weights(buf, location: str) -> bytes | None:
    """Serialized model bytes whose large initializers point into the file itself (None: not applicable)."""
    try:
        end = len(buf)
        graphs = [f for f in _fields(buf, 0, end) if f[0] == _MODEL_GRAPH and f[1] == _LEN]
        if len(graphs) != 1:
            return None
        _, _, g_field, g_start, g_end = graphs[0]
        parts, moved = [], False
        last = g_start
        for number, wire, field_start, payload, payload_end in _fields(buf, g_start, g_end):
            if number != _GRAPH_INITIALIZER or wire != _LEN:
                continue
            tensor = _tensor(buf, payload, payload_end, location)
            if tensor is None:
                continue
            parts.append(bytes(buf[last:field_start]))
            parts.append(_len_field(_GRAPH_INITIALIZER, tensor))
            last = payload_end
            moved = True
        if not moved:
            return None
        parts.append(bytes(buf[last:g_end]))
        graph = b"".join(parts)
        return bytes(buf[0:g_field]) + _len_field(_MODEL_GRAPH, graph) + bytes(buf[g_end:end])
    except (_Malformed, IndexError):
        return None
