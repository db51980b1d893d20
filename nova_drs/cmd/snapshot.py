# SPDX-License-Identifier: Apache-2.0
"""``nova-drs snapshot export``: the live cluster view as a snapshot file.

::

    nova-drs snapshot export --config-file /etc/nova-drs/nova-drs.conf \\
        [--output FILE] [--metrics-wait SECONDS] [--debug]

writes what the balancer would plan for, in the snapshot format that
``nova-drs plan --snapshot`` reads (``doc/source/snapshot-format.rst``):

1. Nova's and Placement's inventory, read with
   :func:`nova_drs.balancer.view.nova_view.collect` through the connection of
   ``[drs_nova]``/``[drs_placement]``;
2. the agents' metrics, gathered for ``--metrics-wait`` seconds (or until
   every host of the inventory has reported) by a
   :class:`~nova_drs.balancer.view.host_view.HostView` fed by a
   :class:`~nova_drs.balancer.intake.listener.MetricsListener` on a temporary
   pool ``drs-balancer-export-<uuid>``, which is deleted at the end
   (RabbitMQ; best effort, and the broker policy on ``^drs-balancer-``
   expires it anyway). The default queue is neither read nor drained:
   a running balancer may be reading it;
3. ``view.apply(model)``: the measured loads, each host's measured state
   (its agent's hot flags and thresholds, its base load: the snapshot's
   ``hot``, ``thresholds`` and ``base_load``), and hosts without current
   metrics marked ``disabled`` with their instances ``opt_out``, as the
   balancer sees them. ``--metrics-wait 0`` skips 2 and 3: inventory only,
   with ``nova_view``'s default loads (CPU idle, flavor memory in use).

The snapshot goes to standard output or ``--output`` (written whole or not
at all); progress lines go to standard error. Every error is one line on
standard error and exit code 2, without a traceback unless ``--debug``.
"""

import argparse
import contextlib
import json
import logging as std_logging
import os
import sys
import tempfile
import threading
import time
import uuid

from oslo_config import cfg

from nova_drs.cmd import common

# NOTE: openstacksdk, keystoneauth and oslo.messaging are imported where
# they are used: building nova-drs's parser must not cost every other
# subcommand their import time (0.2 s for openstacksdk alone).

#: one agent interval (10 s) plus the batch timeout and some slack
DEFAULT_METRICS_WAIT = 15.0
MAX_METRICS_WAIT = 3600.0
#: the temporary pool is EXPORT_POOL_PREFIX-<uuid>: under the documented
#: broker policy ``^drs-balancer-`` that expires forgotten queues
EXPORT_POOL_PREFIX = 'drs-balancer-export'
#: how long the broker may take to answer before the export gives up
BROKER_TIMEOUT = 20.0
#: how often the wait checks whether every host has reported
POLL_INTERVAL = 0.2


def _status(text):
    sys.stderr.write('nova-drs: %s\n' % text)
    sys.stderr.flush()


def _one_line(error, limit=300):
    text = ' '.join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a number of seconds: %r'
                                         % text)
    if not 0 <= value <= MAX_METRICS_WAIT:
        raise argparse.ArgumentTypeError(
            'must be between 0 and %g seconds, got %s'
            % (MAX_METRICS_WAIT, text))
    return value


# -- Nova ---------------------------------------------------------------------

def nova_error_message(error):
    """One line saying why Nova or Placement could not be read."""
    from keystoneauth1 import exceptions as ks_exc
    why = _one_line(error)
    status = getattr(error, 'status_code', None) or getattr(
        error, 'http_status', None)
    if isinstance(error, ks_exc.Unauthorized) or status == 401:
        return ('authentication refused by Keystone or Nova: check the '
                '[drs_nova] credentials (%s)' % why)
    if isinstance(error, ks_exc.Forbidden) or status == 403:
        return ('permission denied by Nova or Placement: the [drs_nova] '
                'user needs the admin role (doc/source/balancer.rst) (%s)'
                % why)
    if isinstance(error, (ks_exc.ConnectionError, ks_exc.DiscoveryFailure)):
        # keystoneauth appends urllib3's whole story after the URL
        why = why.split(': HTTPConnectionPool(')[0].split(
            ': HTTPSConnectionPool(')[0]
        return ('cannot reach Nova, Placement or Keystone: %s (check '
                '[drs_nova] auth_url, endpoint and [drs_placement] '
                'endpoint_override)' % why)
    if isinstance(error, ks_exc.EndpointNotFound):
        return ('no compute or placement endpoint in the service catalog: '
                '%s (check [drs_nova] and [drs_placement] region_name, '
                'valid_interfaces)' % why)
    if isinstance(error, ks_exc.ClientException):
        return 'cannot use Nova or Placement: %s' % why
    return 'Nova or Placement answered with an error: %s' % why


def read_inventory(conf):
    """The :class:`nova_view.NovaView` of the cloud; CommandError if not."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as sdk_exc

    from nova_drs.balancer import clients
    from nova_drs.balancer.view import nova_view
    try:
        conn = clients.connect(conf)
    except clients.ClientConfigError as e:
        raise common.CommandError(str(e)) from e
    try:
        return nova_view.NovaCollector(conn, conf).collect()
    except (ks_exc.ClientException, sdk_exc.SDKException) as e:
        raise common.CommandError(nova_error_message(e)) from e


# -- the agents' metrics ------------------------------------------------------

def _transport_url(conf):
    """The notification transport URL (None: not registered or not set)."""
    try:
        return (conf.oslo_messaging_notifications.transport_url
                or conf.transport_url)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return None


def _safe_url(conf, url):
    """``url`` without its passwords, for messages."""
    import oslo_messaging
    try:
        parsed = oslo_messaging.TransportURL.parse(conf, url)
    except Exception:  # noqa: BLE001 - only for a message
        return '(the configured transport_url)'
    hosts = ','.join('%s:%s' % (h.hostname, h.port) for h in parsed.hosts)
    return '%s://%s/%s' % (parsed.transport, hosts,
                           parsed.virtual_host or '')


def delete_queue(conf, name):
    """Delete queue ``name`` on the RabbitMQ of ``conf``, best effort.

    :returns: None when done (or not RabbitMQ), else why not.
    """
    import kombu
    import oslo_messaging
    try:
        url = oslo_messaging.TransportURL.parse(conf, _transport_url(conf))
        if url.transport not in ('rabbit', 'kombu+amqp') or not url.hosts:
            return None
        host = url.hosts[0]
        with kombu.Connection(
                hostname=host.hostname or '127.0.0.1',
                port=host.port or 5672, userid=host.username or 'guest',
                password=host.password or 'guest',
                virtual_host=url.virtual_host or '/',
                ssl=bool(conf.oslo_messaging_rabbit.ssl),
                connect_timeout=5) as connection:
            connection.channel().queue_delete(name)
    except Exception as e:  # noqa: BLE001 - best effort, reported
        return _one_line(e)
    return None


class MetricsGatherer:
    """A host view fed for a while from a temporary pool of its own."""

    def __init__(self, conf):
        # NOTE: before oslo.messaging is imported: native threads, as the
        # balancer and the agent (no eventlet)
        from nova_drs import agent
        agent.use_native_threads()
        from nova_drs.balancer.intake import listener
        from nova_drs.balancer.view import host_view

        self.conf = conf
        self.pool = '%s-%s' % (EXPORT_POOL_PREFIX, uuid.uuid4())
        # a pool of its own, and no drain: a balancer without replicas
        # reads the default queue, whose messages are not ours to take
        conf.set_override('pool', self.pool, 'drs_listener')
        conf.set_override('drain_default_queue', False, 'drs_listener')
        self.view = host_view.HostView(conf)
        self.listener = listener.MetricsListener(conf, self.view)
        self._started = False

    def start(self, timeout=None):
        """Start listening; CommandError when the broker does not answer.

        oslo.messaging retries a broker that does not answer for ever, so
        the start runs in a thread the export stops waiting for.
        """
        timeout = BROKER_TIMEOUT if timeout is None else timeout
        outcome = {}

        def start():
            try:
                self.listener.start()
                outcome['ok'] = True
            except Exception as e:  # noqa: BLE001 - reported below
                outcome['error'] = e

        thread = threading.Thread(target=start, daemon=True,
                                  name='export-metrics-start')
        thread.start()
        thread.join(timeout)
        where = _safe_url(self.conf, _transport_url(self.conf))
        if 'error' in outcome:
            raise common.CommandError(
                'cannot listen to the agents\' metrics on %s: %s'
                % (where, _one_line(outcome['error']))) from outcome['error']
        if not outcome.get('ok'):
            raise common.CommandError(
                'the message broker %s did not answer within %g s (use '
                '--metrics-wait 0 to export the inventory only)'
                % (where, timeout))
        self._started = True

    def wait(self, seconds, hosts, clock=time.monotonic,
             sleep=time.sleep):
        """Until ``seconds`` have passed or every one of ``hosts`` reported.

        :returns: the sorted names of ``hosts`` with current metrics.
        """
        hosts = set(hosts)
        deadline = clock() + seconds
        while True:
            reported = hosts.intersection(self.view.fresh_hosts())
            left = deadline - clock()
            if left <= 0 or (hosts and reported == hosts):
                return sorted(reported)
            sleep(min(POLL_INTERVAL, left))

    def stop(self):
        """Stop listening and delete the temporary queue.

        :returns: None, or why the queue could not be deleted.
        """
        if not self._started:
            return None
        self._started = False
        self.listener.stop()
        return delete_queue(self.conf, self.pool)


# -- output -------------------------------------------------------------------

class Output:
    """Standard output, or a file replaced whole once the export is done.

    The file's directory is checked at once (a temporary file is made
    there), so an unwritable ``--output`` fails before the long part.
    """

    def __init__(self, path=None):
        self.path = path
        self._tmp = None
        if path is None:
            return
        directory = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise common.CommandError('cannot write %s: it is a directory'
                                      % path)
        try:
            fd, self._tmp = tempfile.mkstemp(
                prefix='.%s.' % os.path.basename(path), dir=directory)
            os.close(fd)
        except OSError as e:
            raise common.CommandError('cannot write %s: %s'
                                      % (path, e.strerror or e)) from e

    def write(self, text):
        if self.path is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        try:
            with open(self._tmp, 'w', encoding='utf-8') as f:
                f.write(text)
            # mkstemp makes it private; a snapshot is not secret
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self._tmp, 0o666 & ~umask)
            os.replace(self._tmp, self.path)
            self._tmp = None
        except OSError as e:
            raise common.CommandError('cannot write %s: %s' % (
                self.path, e.strerror or e)) from e

    def discard(self):
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None


# -- the command --------------------------------------------------------------

@contextlib.contextmanager
def _logging(debug):
    """Log records to standard error while the command runs.

    Undone afterwards, so that the command can run inside another program
    (or a test) without leaving its handler behind.
    """
    handler = std_logging.StreamHandler(sys.stderr)
    root = std_logging.getLogger()
    quiet = [std_logging.getLogger(n) for n in ('openstack', 'keystoneauth')]
    saved = (root.level, [q.level for q in quiet])
    if debug:
        handler.setFormatter(std_logging.Formatter(
            '%(asctime)s %(levelname)s %(name)s %(message)s'))
        root.setLevel(std_logging.DEBUG)
    else:
        handler.setFormatter(std_logging.Formatter('nova-drs: %(message)s'))
        root.setLevel(std_logging.WARNING)
        # their warnings about a failed request say less than the one
        # error line the command prints for it
        for logger in quiet:
            logger.setLevel(std_logging.ERROR)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for logger, level in zip(quiet, saved[1]):
            logger.setLevel(level)


def _names(names, limit=10):
    shown = ', '.join(names[:limit])
    return shown + (' and %d more' % (len(names) - limit)
                    if len(names) > limit else '')


def export(conf, metrics_wait, output):
    """Read the live view and write its snapshot; CommandError if not."""
    gatherer = None
    if metrics_wait > 0:
        gatherer = MetricsGatherer(conf)
        _status('listening to agent metrics on the temporary queue %s'
                % gatherer.pool)
        gatherer.start()
    try:
        started = time.monotonic()
        _status('reading Nova and Placement...')
        view = read_inventory(conf)
        model = view.model
        _status('%d hosts, %d instances, %d server groups from Nova%s'
                % (len(model.hosts), len(model.instances),
                   len(view.groups),
                   ' (%d left out, see --debug)' % len(view.skipped)
                   if view.skipped else ''))
        if gatherer is not None:
            left = max(metrics_wait - (time.monotonic() - started), 0.0)
            _status('waiting up to %.0f s for agent metrics...'
                    % metrics_wait)
            reported = gatherer.wait(left, model.hosts.names)
            _status('%d of %d hosts reported' % (len(reported),
                                                 len(model.hosts)))
            report = gatherer.view.apply(model)
            if report.stale_hosts:
                _status('without current metrics, marked disabled (their '
                        'instances opted out): %s'
                        % _names(report.stale_hosts))
            _status('loads of %d instances from metrics, %d without'
                    % (report.updated_instances,
                       len(report.without_metrics)))
    finally:
        if gatherer is not None:
            why = gatherer.stop()
            if why is not None:
                _status('could not delete the temporary queue %s (%s); '
                        'the broker policy on ^drs-balancer- will expire '
                        'it' % (gatherer.pool, why))
    text = json.dumps(view.to_snapshot(), indent=2) + '\n'
    output.write(text)
    if output.path:
        _status('wrote %s' % output.path)


def cmd_export(args, load_conf):
    with _logging(args.debug):
        return _run(args, load_conf)


def _run(args, load_conf):
    output = None
    try:
        conf = load_conf(args)
        output = Output(args.output)
        export(conf, args.metrics_wait, output)
    except common.CommandError:
        raise
    except Exception as e:
        # a bug: still one line (common.run prints the traceback with
        # --debug)
        raise common.CommandError(
            'export failed: %s: %s (run with --debug for the traceback)'
            % (type(e).__name__, _one_line(e))) from e
    finally:
        # nothing left behind on failure or interruption; a no-op once
        # the file was written
        if output is not None:
            output.discard()
    return 0


def add_parser(sub, add_config_args, load_conf):
    """``nova-drs snapshot export``, on ``nova-drs``'s subparsers."""
    parser = sub.add_parser(
        'snapshot', help='Export the live cluster view as a snapshot.',
        description='Cluster snapshots (doc/source/snapshot-format.rst).')
    commands = parser.add_subparsers(dest='snapshot_command',
                                     metavar='COMMAND',
                                     parser_class=type(parser))
    commands.required = True
    export_parser = commands.add_parser(
        'export', help='Write the live cluster view as a snapshot.',
        description='Read Nova\'s and Placement\'s inventory and the '
                    'agents\' metrics, and write the cluster as the balancer '
                    'sees it, in the snapshot format that "nova-drs plan '
                    '--snapshot" reads. Progress goes to standard error.')
    export_parser.add_argument(
        '--output', metavar='FILE',
        help='Write the snapshot here (replaced whole once complete) '
             'instead of standard output.')
    export_parser.add_argument(
        '--metrics-wait', type=_seconds, default=DEFAULT_METRICS_WAIT,
        metavar='SECONDS',
        help='Listen to the agents\' metrics this long at most, or until '
             'every host has reported (default %g: one agent interval and '
             'some); 0 exports the inventory only, with no measured loads '
             'and no host marked stale.' % DEFAULT_METRICS_WAIT)
    export_parser.add_argument(
        '--debug', action='store_true',
        help='Log debugging messages, and show a traceback on errors.')
    add_config_args(export_parser)
    export_parser.set_defaults(func=lambda args: cmd_export(args, load_conf))
    return parser
