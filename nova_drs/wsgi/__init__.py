# SPDX-License-Identifier: Apache-2.0
"""WSGI entry points (``<package>.wsgi.<server>:application``)."""
