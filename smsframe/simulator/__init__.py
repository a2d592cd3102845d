"""A faithful local copy of the provider's SOAP service (see docs/provider/contract.md).

>>> from smsframe.simulator import Simulator
"""

from smsframe.simulator.server import Simulator

__all__ = ["Simulator"]
