# SPDX-License-Identifier: Apache-2.0
"""PNG plots of a simulation (matplotlib, Agg backend: no display needed).

* ``host-load.png``: CPU and memory load of every host over time, one
  heat map per strategy;
* ``hotspots-migrations.png``: hosts above a threshold, hosts with CPU
  overloaded, migrations started and active hosts per step;
* ``memory.png``: memory reclaimed by ballooning and memory-pressure
  events per step.
"""

import os

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402

DPI = 100
#: Loads above this are drawn with the top colour.
LOAD_MAX = 1.2


def _hours(results, steps):
    return np.arange(steps) * results['input']['interval_s'] / 3600.0


def host_load(results, histories, path):
    names = list(histories)
    fig, axes = plt.subplots(
        2, len(names), figsize=(4.2 * len(names) + 1.2, 7.0),
        squeeze=False, sharex=True, sharey=True, constrained_layout=True)
    steps = len(histories[names[0]]['active_hosts'])
    hours = _hours(results, steps)
    extent = [0.0, hours[-1] + (hours[1] - hours[0] if steps > 1 else 1.0),
              histories[names[0]]['cpu_load'].shape[1] - 0.5, -0.5]
    image = None
    for col, name in enumerate(names):
        for row, (key, label) in enumerate((('cpu_load', 'CPU'),
                                            ('memory_load', 'memory'))):
            ax = axes[row][col]
            image = ax.imshow(
                histories[name][key].T, aspect='auto', origin='upper',
                extent=extent, vmin=0.0, vmax=LOAD_MAX, cmap='magma',
                interpolation='nearest')
            ax.set_title('%s: %s load' % (name, label))
            if col == 0:
                ax.set_ylabel('host')
            if row == 1:
                ax.set_xlabel('hours')
    bar = fig.colorbar(image, ax=axes, shrink=0.8)
    bar.set_label('load (share of physical capacity)')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


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
                             constrained_layout=True)
    _lines(axes[0], results, histories, 'hot_hosts', 'hosts',
           'Hosts above a [drs] threshold (raw load) during the step')
    _lines(axes[1], results, histories, 'overloaded_hosts', 'hosts',
           'Hosts with CPU demand >= 100% of their cores during the step')
    _lines(axes[2], results, histories, 'migrations', 'migrations',
           'Live migrations started per step', drawstyle='steps-post')
    _lines(axes[3], results, histories, 'active_hosts', 'hosts',
           'Active hosts (holding instances)')
    axes[0].legend(loc='upper right')
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def memory(results, histories, path):
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             constrained_layout=True)
    _lines(axes[0], results, histories, 'reclaimed_gib', 'GiB',
           'Host memory reclaimed by ballooning', count=False)
    _lines(axes[1], results, histories, 'pressure_events', 'guests',
           'Memory-pressure events (working set above the balloon)',
           drawstyle='steps-post')
    axes[0].legend(loc='upper right')
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def capacity(runs, interval_s, path):
    """``nova-drs capacity``: reclaimed memory and host headroom.

    :param runs: label -> :class:`nova_drs.simulator.capacity.Run` (with
        history), each at the policy's largest overcommit.
    """
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             constrained_layout=True)
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
    axes[0].legend(loc='upper right')
    axes[-1].set_xlabel('hours')
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def energy(results, histories, path):
    """Active hosts and energy per step: what packing saves."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             constrained_layout=True)
    _lines(axes[0], results, histories, 'active_hosts', 'hosts',
           'Active hosts (holding instances; the others can be off)')
    _lines(axes[1], results, histories, 'energy_kwh', 'kWh',
           'Energy per step (linear power model, empty hosts off)',
           count=False)
    axes[0].legend(loc='upper right')
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


def write_all(results, histories, directory):
    """Write every figure; return [(file name, caption)]."""
    out = []
    for name, caption, draw in FIGURES:
        draw(results, histories, os.path.join(directory, name))
        out.append((name, caption))
    return out
