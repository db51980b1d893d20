# SPDX-License-Identifier: Apache-2.0
"""Check a snapshot against its JSON Schema; word the first problem.

Two libraries, one schema (:mod:`nova_drs.model.snapshot_schema`):

* fastjsonschema's compiled check says whether a snapshot is valid: on a
  snapshot of 10,000 hosts and 100,000 instances it takes 0.26 s, the
  jsonschema library's ``Draft7Validator`` 5 s (the whole read, checks
  included, takes 0.75 s);
* when it refuses one, ``Draft7Validator`` looks again at the entry it
  stopped at (``hosts[3]``, or the top level of the document) and
  :func:`jsonschema.exceptions.best_match` picks the error worded, with
  its path, e.g. ``hosts[3].memory_mb: must be at least 1, got 0``.

Neither library refuses a NaN or an infinity as a number (JSON has
neither, Python's decoder reads both): a serialisation that refuses them
finds one, and the ``Draft7Validator`` of the message counts only finite
numbers as numbers.
"""

import functools
import json
import math

from nova_drs.model import snapshot_schema as schema

#: the top-level lists, whose entries a message names (``hosts[3]``)
LISTS = ('hosts', 'instances', 'server_groups')


@functools.lru_cache(maxsize=None)
def _compiled():
    # NOTE: imported and compiled (some 20 ms) on first use
    import fastjsonschema
    return (fastjsonschema.compile(schema.DOCUMENT),
            fastjsonschema.JsonSchemaValueException)


@functools.lru_cache(maxsize=None)
def _draft7():
    """``(validator class, best_match)``: draft 7 with finite numbers."""
    import jsonschema

    base = jsonschema.Draft7Validator

    def finite_number(checker, value):
        return base.TYPE_CHECKER.is_type(value, 'number') and \
            math.isfinite(value)

    checker = base.TYPE_CHECKER.redefine('number', finite_number)
    cls = jsonschema.validators.extend(base, type_checker=checker)
    return cls, jsonschema.exceptions.best_match


def first_problem(doc):
    """The message of ``doc``'s first problem, or None when it is valid.

    :param doc: a dict (the caller checks that, and the version).
    """
    check, invalid = _compiled()
    try:
        check(doc)
    except invalid as e:
        path = [int(p) if p.isdigit() else p for p in e.path[1:]]
        # the two libraries agree; should they not, the compiled check's
        # own words
        return _explain(doc, path[:2]) or '%s: %s' % (
            _where(path), e.message.split(' ', 1)[-1])
    if not _finite(doc):
        return _non_finite(doc)
    return None


def _finite(value):
    try:
        # keys and values that are not JSON (in keys the reader ignores)
        # do not matter here: skipped, or written as null
        json.dumps(value, allow_nan=False, skipkeys=True,
                   default=lambda _: None)
    except ValueError:
        return False
    return True


def _non_finite(doc):
    """The first non-finite number in a field the schema checks, if any.

    Keys the reader ignores may hold NaN: an entry is explained only when
    it holds one somewhere, and is valid when it is in such a key.
    """
    for key in LISTS:
        entries = doc.get(key)
        if not isinstance(entries, list):
            continue
        for n, entry in enumerate(entries):
            if not _finite(entry):
                message = _explain(doc, [key, n])
                if message:
                    return message
    return None


@functools.lru_cache(maxsize=None)
def _top_level():
    """The document's schema without its entries' schemas.

    A problem at the top level is worded without a look at every entry.
    """
    lists = {key: {k: v for k, v in node.items() if k != 'items'}
             for key, node in schema.DOCUMENT['properties'].items()}
    return dict(schema.DOCUMENT, properties=lists)


def _explain(doc, path):
    """Word the best error of the entry at ``path`` (or of the top level).

    :returns: the message, or None when the entry is valid.
    """
    node, value, prefix = _top_level(), doc, []
    if len(path) == 2 and path[0] in LISTS:
        node = schema.DOCUMENT['properties'][path[0]]['items']
        value, prefix = doc[path[0]][path[1]], path
    cls, best_match = _draft7()
    error = best_match(cls(node).iter_errors(value))
    if error is None:
        return None
    return _message(error, prefix + list(error.absolute_path))


def _where(path):
    out = ''
    for part in path:
        if isinstance(part, int):
            out += '[%d]' % part
        else:
            out += '.%s' % part if out else str(part)
    return out or 'snapshot'


def _types(node):
    kinds = node.get('type', [])
    return kinds if isinstance(kinds, list) else [kinds]


def _message(error, path):
    """``path: what is wrong`` for one jsonschema error."""
    node, value, rule = error.schema, error.instance, error.validator
    if rule == 'required':
        missing = next(k for k in error.validator_value if k not in value)
        return '%s: %s' % (_where(path + [missing]), _missing(
            node['properties'][missing]))
    if rule == 'enum' and set(node['enum']) <= set(schema.RESOURCES):
        # the list names the resource, not its position in the list
        if path and isinstance(path[-1], int):
            path = path[:-1]
        return '%s: unknown resource %r (one of %s)' % (
            _where(path), value, ', '.join(schema.RESOURCES))
    if rule == 'minItems' and path == ['hosts']:
        # the only list with a minimum
        return 'hosts: must hold at least one host'
    return '%s: %s' % (_where(path), _wording(error, node, value, rule))


def _missing(node):
    return 'required %s is missing' % (
        'list' if 'array' in _types(node) else 'field')


def _wording(error, node, value, rule):
    if rule == 'type':
        return _wrong_type(node, value)
    if rule == 'minLength':
        return 'must be a non-empty string'
    if rule in ('minimum', 'exclusiveMinimum', 'maximum'):
        bound = {'minimum': 'at least', 'exclusiveMinimum': 'greater than',
                 'maximum': 'at most'}[rule]
        return 'must be %s %s, got %r' % (bound, error.validator_value,
                                          value)
    if rule == 'enum':
        return 'must be one of %s, got %r' % (
            ', '.join(str(v) for v in node['enum']), value)
    if rule == 'additionalProperties':
        known = list(node['properties'])
        unknown = sorted(str(k) for k in value if k not in known)
        return 'unknown %s %r (one of %s)' % (
            'resource' if set(known) == set(schema.RESOURCES) else 'key',
            unknown[0], ', '.join(known))
    return error.message


def _wrong_type(node, value):
    kinds = _types(node)
    if value is None:
        # an optional field's type includes null
        return _missing(node)
    if 'integer' in kinds or 'number' in kinds:
        if isinstance(value, float) and not math.isfinite(value):
            return 'must be finite'
        if 'integer' in kinds and isinstance(value, (int, float)) and \
                not isinstance(value, bool):
            return 'must be a whole number, got %r' % (value,)
        return 'must be a number, got %r' % (value,)
    if 'boolean' in kinds:
        # a flag also takes a string
        return 'must be true or false'
    if 'string' in kinds:
        return 'must be a non-empty string' if node.get('minLength') \
            else 'must be a string'
    if 'array' in kinds:
        return 'must be a list of strings' if _types(
            node.get('items', {})) == ['string'] else 'must be a list'
    if node.get('additionalProperties') is False:
        return 'must be an object with %sthe keys %s' % (
            '' if node['required'] else 'some of ',
            ', '.join(node['properties']))
    return 'must be an object'
