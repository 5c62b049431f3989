"""Blocks forever while being imported (feisty enforces the timeout)."""
import threading

from flask import Flask

threading.Event().wait()
app = Flask(__name__)
