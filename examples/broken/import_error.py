from flask import Flask

import feisty_missing_dependency  # not installed anywhere

app = Flask(__name__)
