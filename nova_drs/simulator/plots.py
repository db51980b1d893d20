# SPDX-License-Identifier: Apache-2.0
"""PNG plots of a simulation (matplotlib, Agg backend: no display needed).

* ``host-load.png``: CPU and memory load of the hosts over time, per
  strategy, with the ``[drs]`` threshold (and the relief ceiling, the
  threshold less ``[drs_balancer] relief_margin``, when a strategy ran):
  up to :data:`HOST_ROWS_LIMIT` hosts a heat map with one row per host,
  above it percentile bands over the active hosts (one row per host is
  unreadable, and large, past a few hundred hosts);
* ``energy.png``: active hosts and energy per step;
* ``hotspots-migrations.png``: hosts above a threshold, hosts with CPU
  overloaded, migrations started and active hosts per step;
* ``memory.png``: memory reclaimed by ballooning and memory-pressure
  events per step.
"""

import os
import warnings

import matplotlib

matplotlib.use('Agg')

from matplotlib import colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402

DPI = 100
#: Loads above this are drawn with the top colour.
LOAD_MAX = 1.2
#: Above this many hosts, ``host-load.png`` shows percentile bands
#: instead of one row per host.
HOST_ROWS_LIMIT = 200
#: Percentiles of the band view (with the maximum).
PERCENTILES = (50, 90, 99)
#: (history key, resource of the thresholds, label) of the load plots.
LOADS = (('cpu_load', 'cpu', 'CPU'), ('memory_load', 'memory', 'memory'))
THRESHOLD_STYLE = dict(color='#d62728', linestyle='--', linewidth=1.2)
CEILING_STYLE = dict(color='#2ca02c', linestyle=':', linewidth=1.4)


def _hours(results, steps):
    i = results['input']
    return np.arange(steps) * i.get('history_interval_s',
                                    i['interval_s']) / 3600.0


def limits(results):
    """{resource: (threshold, ceiling or None)} of the load plots.

    The ceiling (threshold less ``[drs_balancer] relief_margin``, what a
    relieved host is brought under and a destination kept under) only
    when the simulation read the margin, that is when a strategy ran.
    """
    i = results['input']
    margin = i.get('settings', {}).get('drs_balancer', {}).get(
        'relief_margin', {}).get('value')
    out = {}
    for _key, resource, _label in LOADS:
        threshold = float(i['thresholds'][resource])
        ceiling = threshold - margin if margin else None
        out[resource] = (threshold, ceiling if ceiling and ceiling > 0
                         else None)
    return out


def load_bands(load, active):
    """Percentiles and maximum of the active hosts' load at each step.

    :param load: (steps, hosts) load.
    :param active: (steps, hosts) bool, hosts holding (or receiving) an
        instance: empty hosts are off and would pull the bands to 0.
    :returns: {"p50": (steps,), ..., "max": (steps,)}, NaN at steps with
        no active host.
    """
    masked = np.where(active, np.asarray(load, dtype=float), np.nan)
    with warnings.catch_warnings():
        # all-NaN steps (no active host) give NaN, as wanted
        warnings.simplefilter('ignore', RuntimeWarning)
        values = np.nanpercentile(masked, PERCENTILES, axis=1)
        top = np.nanmax(masked, axis=1)
    out = {'p%d' % p: v for p, v in zip(PERCENTILES, values)}
    out['max'] = top
    return out


def _colormap(threshold, vmax):
    """Blues up to the threshold, yellow to red above it (0 to vmax)."""
    n = 240
    cut = int(round(n * min(max(threshold / vmax, 0.0), 1.0)))
    cmap = colors.ListedColormap(np.vstack([
        plt.get_cmap('Blues')(np.linspace(0.05, 0.8, cut)),
        plt.get_cmap('YlOrRd')(np.linspace(0.3, 1.0, n - cut))]))
    return cmap, colors.Normalize(vmin=0.0, vmax=vmax)


THRESHOLD_LABEL = '[drs] threshold'
CEILING_LABEL = 'ceiling: threshold - [drs_balancer] relief_margin'


def _marks(threshold, ceiling):
    out = [(threshold, THRESHOLD_LABEL, 'threshold %g', THRESHOLD_STYLE)]
    if ceiling is not None:
        out.append((ceiling, CEILING_LABEL, 'ceiling %g', CEILING_STYLE))
    return out


def _describe(threshold, ceiling):
    """"threshold 0.85, ceiling 0.8": the values, for an axis label."""
    return ', '.join(fmt % round(value, 6)
                     for value, _l, fmt, _s in _marks(threshold, ceiling))


def _legend(fig, handles, labels):
    # below the plots: a legend inside an axes hides data
    fig.legend(handles, labels, loc='outside lower center',
               ncol=len(handles), frameon=False)


def _per_host(fig, axes, results, histories, lines):
    names = list(histories)
    steps = len(histories[names[0]]['active_hosts'])
    hours = _hours(results, steps)
    extent = [0.0, hours[-1] + (hours[1] - hours[0] if steps > 1 else 1.0),
              histories[names[0]]['cpu_load'].shape[1] - 0.5, -0.5]
    for row, (key, resource, label) in enumerate(LOADS):
        threshold, ceiling = lines[resource]
        cmap, norm = _colormap(threshold, LOAD_MAX)
        image = None
        for col, name in enumerate(names):
            ax = axes[row][col]
            image = ax.imshow(
                histories[name][key].T, aspect='auto', origin='upper',
                extent=extent, cmap=cmap, norm=norm,
                interpolation='nearest')
            ax.set_title('%s: %s load' % (name, label))
            if col == 0:
                ax.set_ylabel('host')
        bar = fig.colorbar(image, ax=axes[row], shrink=0.9, extend='max')
        marks = _marks(threshold, ceiling)
        for value, _label, _fmt, style in marks:
            bar.add_lines([value], [style['color']], [2.0], erase=False)
        bar.set_label('%s load (%s)' % (label,
                                        _describe(threshold, ceiling)))
        # the threshold among the ticks, the round ones too near it out
        ticks = [v for v in (0.0, 0.5, 1.0, LOAD_MAX)
                 if abs(v - threshold) > 0.08] + [threshold]
        bar.ax.yaxis.set_major_locator(ticker.FixedLocator(sorted(ticks)))
        bar.ax.yaxis.set_major_formatter(ticker.FormatStrFormatter('%g'))
    # the colorbars carry the lines; what they are, below
    _legend(fig, [plt.Line2D([], [], **style) for _v, _l, _f, style
                  in marks], [lbl for _v, lbl, _f, _s in marks])
    return 'Host load over time: one row per host'


def _bands(fig, axes, results, histories, lines):
    names = list(histories)
    for row, (key, resource, label) in enumerate(LOADS):
        threshold, ceiling = lines[resource]
        for col, name in enumerate(names):
            ax = axes[row][col]
            hist = histories[name]
            bands = load_bands(hist[key], hist['active'])
            hours = _hours(results, len(bands['max']))
            ax.fill_between(hours, bands['p50'], bands['p90'],
                            color='#1f77b4', alpha=0.35, linewidth=0,
                            label='p50-p90')
            ax.fill_between(hours, bands['p90'], bands['p99'],
                            color='#1f77b4', alpha=0.15, linewidth=0,
                            label='p90-p99')
            ax.plot(hours, bands['p50'], color='#1f77b4', linewidth=1.0,
                    label='median')
            ax.plot(hours, bands['max'], color='black', linewidth=0.6,
                    label='max')
            for value, lbl, _fmt, style in _marks(threshold, ceiling):
                ax.axhline(value, label=lbl, zorder=3, **style)
            # room above the lines for the eye (memory loads end at them)
            ax.set_ylim(0.0, max(ax.get_ylim()[1], threshold + 0.1))
            ax.grid(True, alpha=0.3)
            ax.set_title('%s: %s load' % (name, label))
            if col == 0:
                # the values here, not on the lines: text there hides data
                ax.set_ylabel('%s load of the active hosts\n(%s)' % (
                    label, _describe(threshold, ceiling)))
    _legend(fig, *axes[0][0].get_legend_handles_labels())
    return 'Host load over time: percentiles over the active hosts'


def host_load(results, histories, path, limit=None):
    """Draw ``host-load.png``; return its caption (which view it is).

    :param limit: hosts above which bands replace the per-host rows;
        :data:`HOST_ROWS_LIMIT` by default.
    """
    fig, caption = host_load_figure(results, histories, limit)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return caption


def host_load_figure(results, histories, limit=None):
    """The host-load figure and its caption."""
    limit = HOST_ROWS_LIMIT if limit is None else limit
    names = list(histories)
    n_hosts = histories[names[0]]['cpu_load'].shape[1]
    fig, axes = plt.subplots(
        2, len(names), figsize=(4.2 * len(names) + 1.6, 7.5),
        squeeze=False, sharex=True, sharey='row', layout='constrained')
    for ax in axes[-1]:
        ax.set_xlabel('hours')
    draw = _bands if n_hosts > limit else _per_host
    caption = draw(fig, axes, results, histories, limits(results))
    if draw is _bands:
        caption += ' (more than %d hosts)' % limit
    return fig, caption


def _lines(ax, results, histories, key, ylabel, title, drawstyle='default',
           count=True):
    if count:
        ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    for name, hist in histories.items():
        values = hist[key]
        ax.plot(_hours(results, len(values)), values, label=name,
                drawstyle=drawstyle, linewidth=1.0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)


def hotspots_migrations(results, histories, path):
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True,
                             layout='constrained')
    _lines(axes[0], results, histories, 'hot_hosts', 'hosts',
           'Hosts above a [drs] threshold (raw load) during the step')
    _lines(axes[1], results, histories, 'overloaded_hosts', 'hosts',
           'Hosts with CPU demand >= 100% of their cores during the step')
    _lines(axes[2], results, histories, 'migrations', 'migrations',
           'Live migrations started per step', drawstyle='steps-post')
    _lines(axes[3], results, histories, 'active_hosts', 'hosts',
           'Active hosts (holding instances)')
    _legend(fig, *axes[0].get_legend_handles_labels())
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def memory(results, histories, path):
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             layout='constrained')
    _lines(axes[0], results, histories, 'reclaimed_gib', 'GiB',
           'Host memory reclaimed by ballooning', count=False)
    _lines(axes[1], results, histories, 'pressure_events', 'guests',
           'Memory-pressure events (working set above the balloon)',
           drawstyle='steps-post')
    _legend(fig, *axes[0].get_legend_handles_labels())
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def capacity(runs, interval_s, path):
    """``nova-drs capacity``: reclaimed memory and host headroom.

    :param runs: label -> :class:`nova_drs.simulator.capacity.Run` (with
        history), each at the policy's largest overcommit.
    """
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             layout='constrained')
    for label, run in runs.items():
        hours = np.arange(len(run.headroom)) * interval_s / 3600.0
        name = '%s at %.2fx' % (label, run.overcommit)
        axes[0].plot(hours, run.reclaimed_mb / 1024.0, label=name,
                     linewidth=1.0)
        axes[1].plot(hours, 100.0 * run.headroom, label=name,
                     linewidth=1.0)
    axes[0].set_ylabel('GiB')
    axes[0].set_title('Host memory reclaimed by ballooning')
    axes[1].set_ylabel('% of host memory')
    axes[1].set_title('Host headroom (memory available)')
    axes[1].axhline(5.0, color='red', linewidth=0.8, linestyle='--')
    for ax in axes:
        ax.grid(True, alpha=0.3)
    _legend(fig, *axes[0].get_legend_handles_labels())
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def energy(results, histories, path):
    """Active hosts and energy per step: what packing saves."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             layout='constrained')
    _lines(axes[0], results, histories, 'active_hosts', 'hosts',
           'Active hosts (holding instances; the others can be off)')
    _lines(axes[1], results, histories, 'energy_kwh', 'kWh',
           'Energy per step (linear power model, empty hosts off)',
           count=False)
    _legend(fig, *axes[0].get_legend_handles_labels())
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


FIGURES = (
    ('host-load.png', 'Host load over time', host_load),
    ('energy.png', 'Active hosts and energy', energy),
    ('hotspots-migrations.png', 'Hotspots and migrations over time',
     hotspots_migrations),
    ('memory.png', 'Memory reclaimed and pressure events', memory),
)


def write_all(results, histories, directory, host_rows_limit=None):
    """Write every figure; return [(file name, caption)].

    A figure function may return its caption (``host_load`` says which
    view it drew).
    """
    out = []
    for name, caption, draw in FIGURES:
        path = os.path.join(directory, name)
        if draw is host_load:
            caption = draw(results, histories, path, host_rows_limit)
        else:
            draw(results, histories, path)
        out.append((name, caption))
    return out
