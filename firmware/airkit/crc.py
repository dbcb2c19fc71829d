# Sensirion's CRC-8 over the 16-bit words of the SCD4x (and SHT4x, SGP4x) I2C
# protocol: polynomial 0x31 (x^8 + x^5 + x^4 + 1), initial value 0xFF, no
# reflection, no final XOR (SCD4x datasheet, section 3.11 "Checksum
# Calculation"; its worked example: CRC(0xBEEF) = 0x92).
#
# Bitwise rather than table-driven: a 256-byte table would cost more RAM than
# the few words per second we check are worth. Runs on MicroPython and CPython.


def crc8(buf, start=0, end=None, poly=0x31, init=0xFF):
    """CRC-8 of buf[start:end] (bytes, bytearray or memoryview), as an int."""
    if end is None:
        end = len(buf)
    crc = init
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            if crc & 0x80:
                crc = ((crc << 1) ^ poly) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
    return crc


def word_crc(word):
    """CRC-8 of one big-endian 16-bit word, without building a buffer."""
    crc = 0xFF ^ (word >> 8)
    for _ in range(8):
        crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    crc ^= word & 0xFF
    for _ in range(8):
        crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc
