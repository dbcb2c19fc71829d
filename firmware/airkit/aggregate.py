# Aggregating the samples taken inside one reading interval.
#
# A kit samples every few seconds and publishes one reading per interval.
# Optical PM sensors throw occasional spikes (an insect, a puff of smoke
# past the inlet), so the interval's value is a robust centre of the samples:
# the median, or a trimmed mean that drops the same share of samples at each
# end before averaging. Missing samples (None: sensor warming up or silent)
# are ignored; an interval with no samples has no value (None), so the
# field is left out of the reading rather than reported as zero.
#
# Pure functions on plain lists: MicroPython and CPython alike, no numpy.


def _present(values):
    out = []
    for v in values:
        if v is not None:
            out.append(v)
    return out


def median(values):
    """The median of the values that are not None, or None if there are none."""
    xs = _present(values)
    n = len(xs)
    if not n:
        return None
    xs.sort()
    mid = n // 2
    if n % 2:
        return xs[mid]
    return (xs[mid - 1] + xs[mid]) / 2


def trimmed_mean(values, trim=0.2):
    """The mean after dropping the lowest and highest ``trim`` share of the
    values that are not None (0.2 drops 20 % at each end, rounded down, at
    least one value always kept), or None if there are none."""
    xs = _present(values)
    n = len(xs)
    if not n:
        return None
    if not 0 <= trim < 0.5:
        raise ValueError("trim must be at least 0 and below 0.5, got %r" % (trim,))
    xs.sort()
    k = int(n * trim)
    if n - 2 * k < 1:
        k = (n - 1) // 2
    total = 0
    for i in range(k, n - k):
        total += xs[i]
    return total / (n - 2 * k)


METHODS = {"median": median, "trimmed": trimmed_mean}


def combine(samples, method="median"):
    """Aggregate a list of sample dicts field by field.

    Each sample maps field names to values (None, a missing key, or a None
    sample all count as missing). Returns a dict holding only the fields
    that had at least one value.
    """
    fn = METHODS.get(method)
    if fn is None:
        raise ValueError("aggregate method must be one of %s, got %r" % (", ".join(METHODS), method))
    names = []
    for s in samples:
        if s:
            for k in s:
                if k not in names:
                    names.append(k)
    out = {}
    for k in names:
        v = fn([s.get(k) for s in samples if s])
        if v is not None:
            out[k] = v
    return out
