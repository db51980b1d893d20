# SPDX-License-Identifier: Apache-2.0
"""Read utilisation traces: PlanetLab CoMon and GWA-T-12 Bitbrains.

Both loaders return a :class:`Trace`: one row per VM, one column per
sample. Every problem with a file raises :class:`TraceError` whose message
starts with ``path:line:`` (or ``path:`` for a whole-file or directory
problem), so that an operator can open the file at the bad line.

*PlanetLab* (as shipped with CloudSim): a directory per day, one file per
VM, one integer per line, the VM's CPU utilisation in percent (0-100),
every 5 minutes. Every file of a day has the same number of samples (288);
a shorter file is reported as truncated. There is no memory, disk or
network data. The files carry no timestamps: up to 288 samples (a day or
part of one) are read every 300 s, CoMon's period; more than 288 cannot be
one day at 300 s, so the period is the day divided by their number (1440
-> 60 s), and a count that does not divide a day is refused rather than
replayed at a wrong speed. The caller may give the period instead
(``nova-drs simulate --trace-interval``).

*Bitbrains* (GWA-T-12, ``fastStorage`` or ``Rnd``): a directory of
``<n>.csv`` files, one per VM, a header line and then one sample per line,
fields separated by ``;`` (and a tab). Columns, in order: timestamp
(seconds), CPU cores, CPU capacity provisioned [MHz], CPU usage [MHz], CPU
usage [%], memory provisioned [KB], memory usage [KB], disk read and write
[KB/s], network received and transmitted [KB/s]. The dataset itself is
uneven, and this is how it is read:

* sample ``k`` of every VM is replayed at step ``k`` (VMs of the archive
  were not all recorded from the same moment);
* the sample period is read from the timestamps: the median spacing of
  each file's, which must be the same in every file (within 1%); a
  period the caller declares (``--trace-interval``) that is not that one
  is refused rather than replayed at the wrong speed;
* a VM's flavor is its largest number of cores and largest provisioned
  memory over the trace; a sample with 0 cores (the VM was off) has no
  demand; a VM never provisioned is left out and listed in
  :attr:`Trace.skipped`;
* CPU utilisation is ``CPU usage [%]`` at that sample's core count, as a
  share of the flavor's vCPUs, capped at 100% (the archive has samples
  up to about 126%); memory in use is capped at the flavor memory;
* disk throughput is read plus write, network throughput received plus
  transmitted, both converted from KB/s to MB/s (divided by 1024, the
  unit of the cluster model being MiB);
* a VM whose file is shorter than the longest has no demand after its
  last sample (it was switched off).
"""

import dataclasses
import math
import os

import numpy as np

PLANETLAB = 'planetlab'
BITBRAINS = 'bitbrains'
KINDS = (PLANETLAB, BITBRAINS)

#: Sampling interval of both traces, seconds.
DEFAULT_INTERVAL_S = 300.0

BITBRAINS_COLUMNS = (
    'Timestamp [ms]', 'CPU cores', 'CPU capacity provisioned [MHZ]',
    'CPU usage [MHZ]', 'CPU usage [%]', 'Memory capacity provisioned [KB]',
    'Memory usage [KB]', 'Disk read throughput [KB/s]',
    'Disk write throughput [KB/s]', 'Network received throughput [KB/s]',
    'Network transmitted throughput [KB/s]')
(_TS, _CORES, _CAP_MHZ, _USE_MHZ, _USE_PCT, _MEM_PROV, _MEM_USE, _DISK_R,
 _DISK_W, _NET_RX, _NET_TX) = range(len(BITBRAINS_COLUMNS))

#: Files that sit beside the traces and are not traces.
_NOT_TRACES = ('.txt', '.md', '.rst', '.json', '.html')


class TraceError(ValueError):
    """A trace file is missing or malformed; the message names it."""


@dataclasses.dataclass
class Trace:
    """VM demand over time, as read from a trace."""

    kind: str
    #: directory the trace was read from
    source: str
    #: one name per VM (the trace file name)
    names: list
    #: seconds between samples
    interval_s: float
    #: (VMs, samples) CPU utilisation, a share 0-1 of the VM's vCPUs
    cpu: np.ndarray
    #: flavor vCPUs per VM; None when the trace does not say (PlanetLab)
    vcpus: np.ndarray = None
    #: flavor memory per VM, MiB; None when the trace does not say
    memory_mb: np.ndarray = None
    #: (VMs, samples) memory in use, MiB; None when not in the trace
    mem_used_mb: np.ndarray = None
    #: (VMs, samples) disk throughput, MB/s; None when not in the trace
    disk_mb_s: np.ndarray = None
    #: (VMs, samples) network throughput, MB/s; None when not in the trace
    net_mb_s: np.ndarray = None
    #: [(name, reason)] of VMs left out
    skipped: list = dataclasses.field(default_factory=list)
    #: remarks on how the trace was read, for the report
    notes: list = dataclasses.field(default_factory=list)

    @property
    def samples(self):
        return self.cpu.shape[1]

    def __len__(self):
        return len(self.names)


def _trace_files(directory):
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        raise TraceError('%s: no such trace directory' % directory)
    except OSError as e:
        raise TraceError('%s: cannot read trace directory: %s'
                         % (directory, e.strerror or e))
    out = []
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith('.') or name.endswith(_NOT_TRACES):
            continue
        if os.path.isfile(path):
            out.append((name, path))
    return out


def _read_lines(path):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read().splitlines()
    except UnicodeDecodeError as e:
        raise TraceError('%s: not a text file (%s)' % (path, e.reason))
    except OSError as e:
        raise TraceError('%s: cannot read trace file: %s'
                         % (path, e.strerror or e))


def _number(text, path, line_no, what):
    try:
        value = float(text)
    except ValueError:
        raise TraceError('%s:%d: %s: not a number: %r'
                         % (path, line_no, what, text[:40]))
    if not math.isfinite(value) or value < 0:
        raise TraceError('%s:%d: %s: must be a finite number >= 0, got %r'
                         % (path, line_no, what, text[:40]))
    return value


# -- PlanetLab ----------------------------------------------------------------

def _planetlab_file(path):
    lines = _read_lines(path)
    # blank lines are allowed at the end of the file only
    while lines and not lines[-1].strip():
        lines.pop()
    values = []
    for line_no, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            raise TraceError('%s:%d: empty line inside the trace'
                             % (path, line_no))
        value = _number(text, path, line_no, 'CPU utilisation')
        if value > 100.0:
            raise TraceError('%s:%d: CPU utilisation must be 0-100 '
                             '(percent), got %r' % (path, line_no, text))
        values.append(value)
    return values


#: seconds in a PlanetLab day directory
DAY_S = 86400


def planetlab_interval(samples, source):
    """The sample period of a day directory of ``samples`` samples.

    :raises TraceError: more than a day at 300 s, not dividing a day in
        whole seconds
    """
    if samples <= DAY_S // DEFAULT_INTERVAL_S:
        return DEFAULT_INTERVAL_S
    if DAY_S % samples == 0:
        return float(DAY_S // samples)
    raise TraceError(
        '%s: %d samples per file are more than a day at %g s and do not '
        'divide a day into whole seconds; give the sample period '
        '(--trace-interval)' % (source, samples, DEFAULT_INTERVAL_S))


def load_planetlab(day_dir, interval_s=None):
    """Read one PlanetLab day directory.

    :param interval_s: seconds between samples; by default the day
        divided by the number of samples
    """
    files = _trace_files(day_dir)
    if not files:
        raise TraceError('%s: no PlanetLab trace files' % day_dir)
    rows = [(name, path, _planetlab_file(path)) for name, path in files]
    length = max(len(r[2]) for r in rows)
    for name, path, values in rows:
        if len(values) < length:
            raise TraceError(
                '%s:%d: truncated: %d samples where the other files of '
                'the day have %d' % (path, len(values) + 1, len(values),
                                     length))
    cpu = np.array([r[2] for r in rows], dtype=float) / 100.0
    notes = []
    if interval_s is None:
        interval_s = planetlab_interval(length, day_dir)
        if interval_s != DEFAULT_INTERVAL_S:
            notes.append('%d samples per file: one every %g s'
                         % (length, interval_s))
    elif interval_s <= 0:
        raise TraceError('%s: the sample period must be positive, got %r'
                         % (day_dir, interval_s))
    return Trace(PLANETLAB, day_dir, [r[0] for r in rows],
                 float(interval_s), cpu, notes=notes)


# -- Bitbrains ----------------------------------------------------------------

def _split(line):
    return [field.strip() for field in line.split(';')]


def _bitbrains_file(path):
    """Return an array (samples, 11) of one Bitbrains VM file."""
    lines = _read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise TraceError('%s: empty file (expected a Bitbrains header line)'
                         % path)
    header = _split(lines[0])
    if len(header) != len(BITBRAINS_COLUMNS) or \
            not header[0].lower().startswith('timestamp'):
        raise TraceError(
            '%s:1: not a Bitbrains header: expected %d columns separated '
            'by ";" starting with %r' % (path, len(BITBRAINS_COLUMNS),
                                         BITBRAINS_COLUMNS[0]))
    width = len(BITBRAINS_COLUMNS)
    rows = []
    for line_no, line in enumerate(lines[1:], 2):
        fields = _split(line)
        if len(fields) != width:
            if len(fields) < width:
                raise TraceError('%s:%d: truncated row: %d of %d columns'
                                 % (path, line_no, len(fields), width))
            raise TraceError('%s:%d: %d columns, expected %d'
                             % (path, line_no, len(fields), width))
        try:
            row = [float(f) for f in fields]
        except ValueError:
            row = None
        if row is None or not all(math.isfinite(v) and v >= 0
                                  for v in row):
            row = [_number(f, path, line_no, BITBRAINS_COLUMNS[c])
                   for c, f in enumerate(fields)]
        rows.append(row)
    if not rows:
        raise TraceError('%s:2: truncated: no sample after the header'
                         % path)
    return np.array(rows, dtype=float)


def _file_interval(samples):
    """Median spacing of one file's timestamps; None under two samples.

    The median, not the mean: a monitoring agent that missed a sample or
    two leaves a few longer gaps, which do not change the period.
    """
    if samples.shape[0] < 2:
        return None
    step = float(np.median(np.diff(samples[:, _TS])))
    return step if step > 0 else None


#: Relative difference between two files' periods that is still the same
#: period (timestamps are whole seconds, taken with some jitter).
INTERVAL_TOLERANCE = 0.01


def _interval(data, paths):
    """The sample period of a Bitbrains directory, from its timestamps.

    Every file of two samples or more must have the same period (its
    median spacing): the simulator replays sample ``k`` of every VM at
    the same step, which would be wrong for a file sampled at another
    rate.

    :raises TraceError: two files with different periods, naming both
    """
    found = None
    for rows, path in zip(data, paths):
        step = _file_interval(rows)
        if step is None:
            continue
        if found is None:
            found = (step, path)
        elif not math.isclose(step, found[0], rel_tol=INTERVAL_TOLERANCE):
            raise TraceError(
                '%s: samples every %g s where %s has them every %g s: '
                'the files of a trace must share one sample period'
                % (path, step, found[1], found[0]))
    if found is None:
        # NOTE: no file has two samples: nothing to measure, the
        # dataset's period
        return DEFAULT_INTERVAL_S
    return found[0]


def check_interval(declared_s, detected_s, source):
    """Refuse a declared sample period the data contradicts.

    :raises TraceError: ``declared_s`` is not ``detected_s`` (within
        :data:`INTERVAL_TOLERANCE`)
    """
    if declared_s is not None and not math.isclose(
            declared_s, detected_s, rel_tol=INTERVAL_TOLERANCE):
        raise TraceError(
            '%s: --trace-interval %g s does not match the timestamps of '
            'the trace, one sample every %g s'
            % (source, declared_s, detected_s))


def load_bitbrains(directory, interval_s=None):
    """Read a directory of Bitbrains ``<n>.csv`` VM files.

    :param interval_s: the sample period the caller expects; the period
        is read from the timestamps, and :class:`TraceError` raised when
        it is another
    """
    files = [(n, p) for n, p in _trace_files(directory)
             if n.endswith('.csv')]
    if not files:
        raise TraceError('%s: no Bitbrains trace files (*.csv)' % directory)

    def order(item):
        stem = item[0][:-4]
        return (0, int(stem), '') if stem.isdigit() else (1, 0, stem)

    files.sort(key=order)
    data, names, paths, skipped = [], [], [], []
    for name, path in files:
        rows = _bitbrains_file(path)
        if rows[:, _CORES].max() <= 0 or rows[:, _MEM_PROV].max() <= 0:
            skipped.append((name, 'never provisioned (0 cores or 0 memory '
                                  'in every sample)'))
            continue
        data.append(rows)
        names.append(name)
        paths.append(path)
    if not data:
        raise TraceError('%s: no VM of the trace was ever provisioned'
                         % directory)
    length = max(len(d) for d in data)
    n = len(data)
    cpu = np.zeros((n, length))
    mem = np.zeros((n, length))
    disk = np.zeros((n, length))
    net = np.zeros((n, length))
    vcpus = np.zeros(n, dtype=np.int64)
    memory_mb = np.zeros(n, dtype=np.int64)
    short = 0
    for v, rows in enumerate(data):
        k = len(rows)
        short += k < length
        vcpus[v] = int(math.ceil(rows[:, _CORES].max()))
        memory_mb[v] = int(math.ceil(rows[:, _MEM_PROV].max() / 1024.0))
        on = rows[:, _CORES] > 0
        cores = rows[:, _USE_PCT] / 100.0 * rows[:, _CORES]
        cpu[v, :k] = np.where(on, np.minimum(cores / vcpus[v], 1.0), 0.0)
        mem[v, :k] = np.where(on, np.minimum(rows[:, _MEM_USE] / 1024.0,
                                             memory_mb[v]), 0.0)
        disk[v, :k] = np.where(on, (rows[:, _DISK_R] + rows[:, _DISK_W])
                               / 1024.0, 0.0)
        net[v, :k] = np.where(on, (rows[:, _NET_RX] + rows[:, _NET_TX])
                              / 1024.0, 0.0)
    notes = []
    if short:
        notes.append('%d VM(s) have fewer than %d samples: no demand after '
                     'their last sample' % (short, length))
    period = _interval(data, paths)
    check_interval(interval_s, period, directory)
    return Trace(BITBRAINS, directory, names, period, cpu,
                 vcpus=vcpus, memory_mb=memory_mb, mem_used_mb=mem,
                 disk_mb_s=disk, net_mb_s=net, skipped=skipped, notes=notes)


def load(kind, directory, interval_s=None):
    """Read a trace of ``kind``.

    :param interval_s: the sample period: of a PlanetLab day, whose files
        have no timestamps, the period to replay them at; of Bitbrains
        files, which carry timestamps, a check (the period read from them
        must be this one)
    """
    if kind == PLANETLAB:
        return load_planetlab(directory, interval_s)
    if kind == BITBRAINS:
        return load_bitbrains(directory, interval_s)
    raise TraceError('unknown trace kind %r (expected %s)'
                     % (kind, ' or '.join(KINDS)))


# -- resampling ---------------------------------------------------------------

def _window_means(matrix, sample_s, step_s, steps):
    """Time-weighted mean of piecewise-constant samples over each step."""
    n, samples = matrix.shape
    prefix = np.zeros((n, samples + 1))
    np.cumsum(matrix * sample_s, axis=1, out=prefix[:, 1:])
    edges = np.arange(steps + 1) * step_s
    j = np.minimum((edges // sample_s).astype(np.int64), samples - 1)
    integral = prefix[:, j] + matrix[:, j] * (edges - j * sample_s)
    return np.diff(integral, axis=1) / step_s


def resample(trace, interval_s):
    """The trace seen every ``interval_s`` seconds.

    A step shorter than the trace's interval repeats the sample it falls
    in; a longer one takes the time-weighted mean of the samples it spans.
    The trace keeps its duration (the last partial step is dropped).
    """
    if interval_s <= 0:
        raise ValueError('interval must be positive')
    if math.isclose(interval_s, trace.interval_s):
        return trace
    duration = trace.samples * trace.interval_s
    steps = int(duration // interval_s)
    if steps < 1:
        raise TraceError('%s: an interval of %g s is longer than the whole '
                         'trace (%g s)' % (trace.source, interval_s,
                                           duration))

    def one(matrix):
        if matrix is None:
            return None
        return _window_means(matrix, trace.interval_s, interval_s, steps)

    return dataclasses.replace(
        trace, interval_s=float(interval_s), cpu=one(trace.cpu),
        mem_used_mb=one(trace.mem_used_mb), disk_mb_s=one(trace.disk_mb_s),
        net_mb_s=one(trace.net_mb_s),
        notes=trace.notes + ['resampled from %g s to %g s steps'
                             % (trace.interval_s, interval_s)])
