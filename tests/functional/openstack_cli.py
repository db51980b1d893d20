# SPDX-License-Identifier: Apache-2.0
"""``openstack`` commands, each its own process, without the start-up cost.

The functional tests of ``openstack drs`` run the real CLI
(python-openstackclient with the nova-drs plugin) many times; each run of
the ``openstack`` console script spends most of its couple of seconds
importing python-openstackclient, its client plugins and the command
modules, before it sends a request. Run as a script, this module is a
*zygote*: it imports all that once, then for each command it is asked to
run it forks a child that does what the console script does
(``sys.argv``, ``openstackclient.shell.main``, its return value as the
exit status) in the command's environment and working directory, with
stdin, stdout and stderr of its own. So each command is still a separate
process with a fresh shell, fresh options, fresh authentication and a real
exit status; only the imports are shared. Commands may run concurrently
(one child each).

:class:`WarmOpenStack` starts the zygote and runs commands through it;
:meth:`WarmOpenStack.run` answers as ``subprocess.run(capture_output=True,
text=True)`` does.

The zygote must not import this repository's test packages: its
``sys.path`` is the console script's (the ``bin`` directory first), and
this file only uses the standard library at module level.
"""

import atexit
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback

BIN = os.path.dirname(sys.executable)
OPENSTACK = os.path.join(BIN, 'openstack')
#: seconds for the zygote to import python-openstackclient
START_TIMEOUT = 120
#: the entry point groups of the shell's commands and client plugins
COMMANDS_PREFIX = 'openstack.'
#: the zygote's end of its SIGCHLD wake-up pipe (closed in the children)
_WAKE_R = -1
#: exit status of a child that could not become the command
SETUP_FAILED = 70


# -- the zygote (a separate process) ------------------------------------------

def _send(message):
    os.write(1, (json.dumps(message) + '\n').encode('utf-8'))


def _exit_status(code):
    """The exit status of ``sys.exit(code)``, as the interpreter has it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff
    print(code, file=sys.stderr)
    return 1


def _child(request):
    """Become the command: the console script's ``sys.exit(main())``.

    Never returns. It ends as the interpreter ends the console script
    (an exception's traceback, ``sys.exit``'s status, the exit handlers,
    the streams flushed) but for the teardown of every imported module,
    which nothing sees and which would take longer than the command.
    """
    try:
        os.setpgid(0, 0)
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        stdin = os.open(os.devnull, os.O_RDONLY)
        stdout = os.open(request['stdout'],
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        stderr = os.open(request['stderr'],
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (signal.set_wakeup_fd(-1), _WAKE_R):
            os.close(fd)
        sys.argv = [OPENSTACK] + list(request['argv'])
        from openstackclient import shell
    except BaseException:        # the zygote's fault, not the command's
        traceback.print_exc()
        os._exit(SETUP_FAILED)
    try:
        status = _exit_status(shell.main(list(request['argv'])))
    except SystemExit as e:
        status = _exit_status(e.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    try:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    finally:
        os._exit(status)


def _warm_up():
    """Import what an ``openstack`` run imports: the shell, its commands.

    The shell loads the command classes of every ``openstack.*`` entry
    point group when it starts; a module that fails to import here is left
    for the command to fail on as it would anyway.
    """
    import importlib
    from importlib import metadata

    importlib.import_module('openstackclient.shell')
    entry_points = metadata.entry_points()
    modules = {entry.module for group in entry_points.groups
               if group.startswith(COMMANDS_PREFIX)
               for entry in entry_points.select(group=group)}
    for module in sorted(modules):
        try:
            importlib.import_module(module)
        except Exception:        # the command reports it when it runs
            pass


def _serve():
    """Fork a child per request line (JSON) on stdin; report on stdout.

    Messages: ``{"id", "pid"}`` once the child runs, ``{"id",
    "returncode"}`` when it ended. Ends when stdin is closed and every
    child has ended.
    """
    global _WAKE_R
    wake_r, wake_w = os.pipe()
    _WAKE_R = wake_r
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    sys.argv[0] = OPENSTACK       # runpy set it to this file
    _warm_up()
    _send({'ready': os.getpid()})
    children = {}
    pending = b''
    reading = True
    while reading or children:
        ready, _, _ = select.select([0, wake_r] if reading else [wake_r],
                                    [], [], 1.0)
        if wake_r in ready:
            os.read(wake_r, 4096)
        if 0 in ready:
            data = os.read(0, 65536)
            reading = bool(data)
            pending += data
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request)
                children[pid] = request['id']
                _send({'id': request['id'], 'pid': pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            _send({'id': children.pop(pid),
                   'returncode': os.waitstatus_to_exitcode(status)})


# -- the tests' side ---------------------------------------------------------

class _Call:
    def __init__(self):
        self.pid = None
        self.returncode = None
        self.done = threading.Event()


class WarmOpenStack:
    """Runs ``openstack`` commands through a zygote (see the module).

    python-openstackclient reads a few things when it is imported, not
    when it runs: its configuration search path has the working directory
    and ``$HOME``'s, and cliff names the program after ``sys.argv[0]``.
    The zygote is started in the working directory and with the ``HOME``
    of the commands it will run, under the console script's name, and
    every command must use them.

    :param home: ``HOME`` of the commands (their output files go there)
    :param cwd: their working directory
    """

    def __init__(self, home, cwd):
        self.home = home
        self.cwd = cwd
        self._ids = itertools.count()
        self._calls = {}
        self._lock = threading.Lock()
        self._error = None
        self._log = open(os.path.join(home, 'openstack-zygote.log'), 'w+')
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('OS_', 'NOVA_DRS_NOAUTH'))}
        env['HOME'] = home
        # the console script's sys.path (its own directory first) and name
        boot = ('import runpy, sys; sys.path[0] = %r; '
                'runpy.run_path(%r, run_name="__openstack_zygote__")'
                % (BIN, os.path.abspath(__file__)))
        self.proc = subprocess.Popen(
            [sys.executable, '-c', boot], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=cwd)
        ready = {}
        first = threading.Thread(
            target=lambda: ready.update(line=self.proc.stdout.readline()),
            daemon=True)
        first.start()
        first.join(START_TIMEOUT)
        if b'"ready"' not in ready.get('line', b''):
            self.close()
            raise AssertionError('the openstack zygote did not start: %r\n%s'
                                 % (ready.get('line'), self._zygote_log()))
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name='openstack-zygote')
        self._reader.start()

    def _zygote_log(self):
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-4000:]

    def _read(self):
        for line in self.proc.stdout:
            message = json.loads(line)
            call = self._calls.get(message['id'])
            if call is None:
                continue
            if 'pid' in message:
                call.pid = message['pid']
            else:
                call.returncode = message['returncode']
                call.done.set()
        self._error = 'the openstack zygote exited (%s):\n%s' % (
            self.proc.wait(), self._zygote_log())
        for call in list(self._calls.values()):
            call.done.set()

    def run(self, argv, env, timeout=120):
        """``openstack ARGV`` in ``env``, as ``subprocess.run`` would.

        :returns: a ``subprocess.CompletedProcess`` (text output)
        :raises subprocess.TimeoutExpired: it ran longer than ``timeout``
            (it is killed)
        """
        if env.get('HOME') != self.home:
            raise ValueError('the zygote was started with HOME=%s, not %s'
                             % (self.home, env.get('HOME')))
        argv = [str(a) for a in argv]
        ident = next(self._ids)
        call = _Call()
        base = os.path.join(self.home, 'openstack-%d' % ident)
        request = {'id': ident, 'argv': argv, 'env': dict(env),
                   'cwd': self.cwd, 'stdout': base + '.out',
                   'stderr': base + '.err'}
        self._calls[ident] = call
        try:
            with self._lock:
                if self._error:
                    raise AssertionError(self._error)
                self.proc.stdin.write((json.dumps(request) + '\n').encode())
                self.proc.stdin.flush()
            if not call.done.wait(timeout):
                if call.pid is not None:
                    try:
                        os.killpg(call.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                raise subprocess.TimeoutExpired([OPENSTACK] + argv, timeout)
            if call.returncode is None:
                raise AssertionError(self._error)
            out, err = (_read_text(request['stdout']),
                        _read_text(request['stderr']))
        finally:
            del self._calls[ident]
            for path in (request['stdout'], request['stderr']):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return subprocess.CompletedProcess([OPENSTACK] + argv,
                                           call.returncode, out, err)

    def close(self):
        """End the zygote (after the commands that still run)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        self._log.close()


def _read_text(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


if __name__ == '__openstack_zygote__':
    _serve()
