"""Custom converters: a RegexConverter taking its regex from the rule, and classes with a literal regex."""
from flask import Flask
from werkzeug.routing import BaseConverter

app = Flask(__name__)


class RegexConverter(BaseConverter):
    """`<regex("[a-z]{3}"):code>`: the regex is the converter's first argument."""

    def __init__(self, url_map, *items):
        super().__init__(url_map)
        self.regex = items[0]


class ListConverter(BaseConverter):
    regex = r"[a-z]+(?:,[a-z]+)*"

    def to_python(self, value):
        return value.split(",")

    def to_url(self, value):
        return ",".join(value)


class SlugPathConverter(BaseConverter):
    # Contains "/": Werkzeug makes it non part-isolating, like `path`.
    regex = r"[a-z0-9-]+(?:/[a-z0-9-]+)*"
    weight = 150


app.url_map.converters["regex"] = RegexConverter
app.url_map.converters["list"] = ListConverter
app.url_map.converters["slugpath"] = SlugPathConverter


@app.route('/country/<regex("[a-z]{3}"):code>')
def country(code):
    return code


@app.route("/tags/<list:tags>")
def tags(tags):
    return ",".join(tags)


@app.route("/docs/<slugpath:page>/edit", methods=["GET", "POST"])
def edit_doc(page):
    return page


@app.route("/v/<int(min=1):id>")
def version(id):
    return str(id)


@app.route("/s/<string(length=2):lang>/<any(about, help, 'contact-us'):page>")
def page(lang, page):
    return f"{lang}/{page}"


@app.route("/offset/<float(signed=True):x>")
def offset(x):
    return str(x)


@app.route("/obj/<uuid:ident>")
def obj(ident):
    return str(ident)


@app.route("/files/<path:name>")
def files(name):
    return name


if __name__ == "__main__":
    app.run(host="0.0.0.0")
