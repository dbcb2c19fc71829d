"""Stand-ins for machine.UART and machine.I2C that replay real byte streams.

Virtual kits (`airtrail kit simulate`) and the driver tests hand these to the
firmware's sensor classes in place of the ESP32's buses. They implement the
subset of the MicroPython API the drivers use, with the same return values
and errors, and record what the firmware sent so tests can check the exact
bytes on the wire. Nothing here knows about any sensor: the bytes come from
``airkit_host.frames`` (encoders with correct checksums) or recorded logs.

    uart = FakeUART(frames.pms5003_frame({"pm25": 13}), chunk=7)
    PMS5003(uart).read()          # frames split across reads, as on a real FIFO
    uart.written                  # everything the driver wrote

    i2c = FakeI2C({0x76: RegisterDevice(frames.bme280_registers(21.0, 1013.25, 45.0))})
    BME280(i2c).read()
    i2c.absent(0x76)              # unplug it: every access now raises OSError(ENODEV)

    clock = ManualTicks()
    PMS5003(FakeUART(), ticks=clock).read()   # SensorTimeout at once; clock.now == 3000

Kept to the MicroPython subset too (no typing, no dataclasses, no f-strings),
so the same fakes also run inside the WebAssembly MicroPython in tests.
"""

import errno

ENODEV = getattr(errno, "ENODEV", 19)


class FakeUART:
    """A UART fed from a byte stream, like ``machine.UART(..., timeout=0)``.

    FakeUART(stream=b"", chunk=None, responder=None)
      stream     bytes the "sensor" has already sent (more with feed()).
      chunk      at most this many bytes per read/readinto call, to split
                 frames across reads as a real receive FIFO does.
      responder  optional callable(bytes written) -> bytes to feed back (or
                 None): a passive-mode sensor answering a command.

    Reading: any() -> bytes waiting; read(n=None) -> bytes or None when
    nothing waits; readinto(buf, nbytes=None) -> count or None; readline().
    Writing: write(buf) -> count; written (bytearray, all bytes written),
    writes (list of bytes, one per write call).
    Control: feed(data) appends to the stream; pending() -> bytes not yet read.
    init/deinit/flush/sendbreak are accepted and do nothing.
    """

    def __init__(self, stream=b"", chunk=None, responder=None):
        self._rx = bytearray(stream)
        self._pos = 0
        self.chunk = chunk
        self.responder = responder
        self.written = bytearray()
        self.writes = []

    # -- the sensor side --------------------------------------------------

    def feed(self, data):
        """Append bytes as if the sensor had just sent them."""
        if self._pos and self._pos == len(self._rx):
            self._rx = bytearray()
            self._pos = 0
        self._rx.extend(data)

    def pending(self):
        return bytes(self._rx[self._pos:])

    # -- the machine.UART API -------------------------------------------------

    def any(self):
        return len(self._rx) - self._pos

    def _take(self, n):
        avail = len(self._rx) - self._pos
        if n is None or n > avail:
            n = avail
        if self.chunk is not None and n > self.chunk:
            n = self.chunk
        out = bytes(self._rx[self._pos:self._pos + n])
        self._pos += n
        return out

    def read(self, nbytes=None):
        if not self.any():
            return None
        return self._take(nbytes)

    def readinto(self, buf, nbytes=None):
        if not self.any():
            return None
        n = len(buf) if nbytes is None else min(nbytes, len(buf))
        data = self._take(n)
        for i in range(len(data)):
            buf[i] = data[i]
        return len(data)

    def readline(self):
        if not self.any():
            return None
        n = None
        for i in range(self._pos, len(self._rx)):
            if self._rx[i] == 10:
                n = i + 1 - self._pos
                break
        return self._take(n)

    def write(self, buf):
        data = bytes(buf)
        self.written.extend(data)
        self.writes.append(data)
        if self.responder is not None:
            reply = self.responder(data)
            if reply:
                self.feed(reply)
        return len(data)

    def init(self, *args, **kwargs):
        pass

    def deinit(self):
        pass

    def flush(self):
        pass

    def sendbreak(self):
        pass


class RegisterDevice:
    """An I2C device with 8-bit register addresses (BME280 and most sensors).

    RegisterDevice(registers) where registers is a dict {register: byte} or
    a bytes-like image starting at register 0. Reads past the end return
    0xFF like a floating bus. Writes are stored and recorded in ``writes``
    as (register, bytes); ``on_write`` (callable(device, register, data))
    lets a simulation react, e.g. start a new measurement.
    """

    def __init__(self, registers=None, on_write=None):
        self.regs = bytearray(256)
        if registers is not None:
            if isinstance(registers, dict):
                for reg in registers:
                    self.regs[reg] = registers[reg]
            else:
                self.regs[0:len(registers)] = registers
        self.pointer = 0
        self.writes = []
        self.on_write = on_write

    def load(self, registers):
        """Overwrite some registers ({register: byte}), e.g. new raw ADC values."""
        for reg in registers:
            self.regs[reg] = registers[reg]

    def read_reg(self, reg, n):
        out = bytearray(n)
        for i in range(n):
            r = reg + i
            out[i] = self.regs[r] if r < 256 else 0xFF
        return bytes(out)

    def write_reg(self, reg, data):
        data = bytes(data)
        for i in range(len(data)):
            if reg + i < 256:
                self.regs[reg + i] = data[i]
        self.writes.append((reg, data))
        if self.on_write is not None:
            self.on_write(self, reg, data)

    # Plain writeto/readfrom: the first byte written sets the register pointer.
    def write(self, data):
        data = bytes(data)
        if data:
            self.pointer = data[0]
            if len(data) > 1:
                self.write_reg(data[0], data[1:])

    def read(self, n):
        data = self.read_reg(self.pointer, n)
        self.pointer = (self.pointer + n) & 0xFF
        return data


class ScriptedDevice:
    """An I2C device driven by commands (Sensirion SCD4x and similar).

    ScriptedDevice(responses) where responses maps a command (the bytes a
    write starts with, e.g. b"\\xec\\x05") to what the next read returns:
      bytes     the same answer every time;
      list      successive answers, the last one repeated (a recorded stream);
      callable  f(written bytes) -> bytes, computed per command;
      None      the device NACKs the read (OSError(ENODEV)).
    A read with no matching command before it returns 0xFF bytes. Every
    write is recorded in ``writes`` (bytes). ``prefix`` is how many leading
    bytes identify a command (2 for 16-bit command ids).
    """

    def __init__(self, responses=None, prefix=2):
        self.responses = dict(responses or {})
        self.prefix = prefix
        self.writes = []
        self._pending = None
        self._served = {}

    def write(self, data):
        data = bytes(data)
        self.writes.append(data)
        key = data[:self.prefix]
        if key in self.responses:
            self._pending = (key, data)
        else:
            self._pending = None

    def read(self, n):
        if self._pending is None:
            return b"\xff" * n
        key, data = self._pending
        self._pending = None
        answer = self.responses[key]
        if isinstance(answer, list):
            i = self._served.get(key, 0)
            self._served[key] = i + 1
            answer = answer[min(i, len(answer) - 1)]
        elif callable(answer):
            answer = answer(data)
        if answer is None:
            raise OSError(ENODEV)
        answer = bytes(answer)
        return (answer + b"\xff" * n)[:n]


class FakeI2C:
    """A bus of fake devices, like ``machine.I2C``.

    FakeI2C(devices) where devices maps a 7-bit address to a RegisterDevice
    or ScriptedDevice. Methods, as on machine.I2C:
      scan() -> [addresses present]
      readfrom_mem(addr, reg, n) -> bytes;  readfrom_mem_into(addr, reg, buf)
      writeto_mem(addr, reg, buf)
      writeto(addr, buf) -> number of ACKed bytes;  readfrom(addr, n) -> bytes
      readfrom_into(addr, buf)
    An address with no device, or one made absent with absent(addr), raises
    OSError(ENODEV) like a device that does not ACK; present(addr) plugs it
    back in. ``log`` records every transaction as (op, addr, data).
    """

    def __init__(self, devices=None):
        self.devices = dict(devices or {})
        self._absent = set()
        self.log = []

    def absent(self, addr):
        self._absent.add(addr)

    def present(self, addr):
        self._absent.discard(addr)

    def _dev(self, addr):
        if addr in self._absent or addr not in self.devices:
            raise OSError(ENODEV)
        return self.devices[addr]

    def scan(self):
        return sorted(a for a in self.devices if a not in self._absent)

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        data = self._dev(addr).read_reg(reg, n)
        self.log.append(("readfrom_mem", addr, bytes([reg])))
        return data

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        data = self._dev(addr).read_reg(reg, len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]
        self.log.append(("readfrom_mem", addr, bytes([reg])))

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        self._dev(addr).write_reg(reg, buf)
        self.log.append(("writeto_mem", addr, bytes([reg]) + bytes(buf)))

    def writeto(self, addr, buf, stop=True):
        self._dev(addr).write(buf)
        self.log.append(("writeto", addr, bytes(buf)))
        return len(buf)

    def readfrom(self, addr, nbytes, stop=True):
        data = self._dev(addr).read(nbytes)
        self.log.append(("readfrom", addr, data))
        return data

    def readfrom_into(self, addr, buf, stop=True):
        data = self._dev(addr).read(len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]
        self.log.append(("readfrom", addr, bytes(data)))


class ManualTicks:
    """A timebase for the drivers (airkit.sensorbase) that moves only when
    told: sleep_ms() advances it instead of waiting, so a test can let a
    driver time out, or a fix grow old, without waiting for it."""

    def __init__(self, now=0):
        self.now = now
        self.slept = 0  # total ms the drivers asked to sleep

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        self.now += ms
        self.slept += ms

    def advance(self, ms):
        self.now += ms
