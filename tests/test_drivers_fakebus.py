"""The fake buses virtual kits and tests hand to the drivers (airkit_host.fakebus).

They must behave like machine.UART / machine.I2C where the drivers can tell.
"""

from __future__ import annotations

import errno

import pytest

from airkit_host.fakebus import FakeI2C, FakeUART, RegisterDevice, ScriptedDevice


def test_uart_read_returns_none_when_nothing_is_waiting():
    uart = FakeUART()
    assert uart.any() == 0
    assert uart.read() is None
    assert uart.readinto(bytearray(4)) is None


def test_uart_chunk_limits_each_read_like_a_fifo():
    uart = FakeUART(b"abcdefgh", chunk=3)
    assert uart.read() == b"abc"
    buf = bytearray(8)
    assert uart.readinto(buf) == 3 and buf[:3] == b"def"
    assert uart.any() == 2


def test_uart_readline_stops_after_the_newline():
    uart = FakeUART(b"$A*00\r\n$B")
    assert uart.readline() == b"$A*00\r\n"
    assert uart.readline() == b"$B"


def test_uart_records_writes_and_the_responder_answers():
    uart = FakeUART(responder=lambda data: b"pong" if data == b"ping" else None)
    assert uart.write(b"ping") == 4
    uart.write(bytearray(b"x"))
    assert uart.writes == [b"ping", b"x"] and uart.written == b"pingx"
    assert uart.read() == b"pong"


def test_uart_feed_appends_after_unread_bytes():
    uart = FakeUART(b"ab")
    uart.read(1)
    uart.feed(b"cd")
    assert uart.pending() == b"bcd"


def test_i2c_register_device_reads_writes_and_logs():
    dev = RegisterDevice({0xD0: 0x60})
    i2c = FakeI2C({0x76: dev})
    assert i2c.scan() == [0x76]
    assert i2c.readfrom_mem(0x76, 0xD0, 1) == b"\x60"
    i2c.writeto_mem(0x76, 0xF4, b"\x25")
    buf = bytearray(1)
    i2c.readfrom_mem_into(0x76, 0xF4, buf)
    assert buf == b"\x25" and dev.writes == [(0xF4, b"\x25")]


def test_i2c_register_pointer_write_then_read():
    i2c = FakeI2C({0x40: RegisterDevice(bytes(range(16)))})
    i2c.writeto(0x40, b"\x05")
    assert i2c.readfrom(0x40, 3) == b"\x05\x06\x07"


def test_i2c_missing_device_raises_enodev_like_machine_i2c():
    with pytest.raises(OSError) as exc:
        FakeI2C({}).readfrom_mem(0x76, 0xD0, 1)
    assert exc.value.args[0] == errno.ENODEV


def test_i2c_device_can_be_unplugged_and_plugged_back():
    i2c = FakeI2C({0x76: RegisterDevice()})
    i2c.absent(0x76)
    assert i2c.scan() == []
    with pytest.raises(OSError):
        i2c.writeto(0x76, b"\x00")
    i2c.present(0x76)
    assert i2c.writeto(0x76, b"\x00") == 1


def test_scripted_device_replays_a_list_then_repeats_the_last_answer():
    i2c = FakeI2C({0x62: ScriptedDevice({b"\xec\x05": [b"\x01", b"\x02"]})})
    answers = []
    for _ in range(3):
        i2c.writeto(0x62, b"\xec\x05")
        answers.append(i2c.readfrom(0x62, 1))
    assert answers == [b"\x01", b"\x02", b"\x02"]


def test_scripted_device_computes_answers_and_can_nack():
    dev = ScriptedDevice({b"\x01\x02": lambda cmd: cmd[::-1], b"\x03\x04": None})
    i2c = FakeI2C({0x62: dev})
    i2c.writeto(0x62, b"\x01\x02\x09")
    assert i2c.readfrom(0x62, 3) == b"\x09\x02\x01"
    i2c.writeto(0x62, b"\x03\x04")
    with pytest.raises(OSError):
        i2c.readfrom(0x62, 3)
    assert dev.writes == [b"\x01\x02\x09", b"\x03\x04"]


def test_scripted_device_answers_ff_without_a_known_command():
    i2c = FakeI2C({0x62: ScriptedDevice({})})
    i2c.writeto(0x62, b"\x99\x99")
    assert i2c.readfrom(0x62, 2) == b"\xff\xff"
