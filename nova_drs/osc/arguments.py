# SPDX-License-Identifier: Apache-2.0
"""Argument types and option groups shared by several commands."""

import argparse

DEFAULT_WAIT_TIMEOUT = 120.0


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not an integer' % text)
    if value < 0:
        raise argparse.ArgumentTypeError('%r is negative' % text)
    return value


def positive_int(text):
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError('%r must be at least 1' % text)
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a number' % text)
    # NOTE: "nan > 0" is False, so NaN is refused here as well.
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError('%r must be a positive number'
                                         % text)
    return value


def add_pagination(parser):
    parser.add_argument(
        '--limit', metavar='<count>', type=positive_int,
        help='Show at most this many (default: all)')
    parser.add_argument(
        '--marker', metavar='<id>',
        help='Start after this one (the last of a previous page)')


def add_wait(parser, what):
    parser.add_argument(
        '--wait', action='store_true',
        help='Wait until the balancer has made the %s, then show it '
             '(default: show the plan request at once)' % what)
    parser.add_argument(
        '--timeout', metavar='<seconds>', type=positive_float,
        default=DEFAULT_WAIT_TIMEOUT,
        help='With --wait: give up after this many seconds '
             '(default: %d)' % DEFAULT_WAIT_TIMEOUT)
