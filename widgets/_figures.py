"""What the panels share: showing a panel, putting a freshly drawn figure into a live ``FigureWidget``,
and tables and errors as HTML."""

from __future__ import annotations

import html

import plotly.graph_objects as go


class Displayed:
    """Base of the panels: displaying a panel in a notebook displays its ``widget``."""

    def _ipython_display_(self):  # pragma: no cover - display only
        from IPython.display import display
        display(self.widget)


def figure_widget() -> go.FigureWidget:
    """An empty FigureWidget (plotly >= 6 needs anywidget for it: extra ``notebook``)."""
    return go.FigureWidget(layout={"height": 420})


# layout arrays plotly.js draws whatever the traces are; a relayout merges objects but replaces arrays
_DRAWN_ARRAYS = ("annotations", "shapes", "images")


def show(widget: go.FigureWidget, figure: go.Figure) -> None:
    """Replace the widget's traces and layout by the figure's, in one update.

    Assigning a layout sends the browser only the new layout's properties, which plotly.js *merges* into
    the old one: the previous figure's subplot titles (annotations), shapes or images would stay on
    screen.  Those arrays are therefore always sent, empty when the new figure has none.

    The update reaches the page as messages; the widget's synchronised state (what a reloaded page
    draws from) is only written by plotly when the widget is first displayed.  It is written here after
    every update, or a browser reload would bring the chart back as it was first shown (empty)."""
    with widget.batch_update():
        widget.data = ()
        widget.add_traces(list(figure.data))
        widget.layout = figure.layout
        for name in _DRAWN_ARRAYS:
            widget.layout[name] = figure.layout[name] or ()
    widget._widget_data = [trace.to_plotly_json() for trace in widget.data]
    widget._widget_layout = widget.layout.to_plotly_json()


def table_html(rows: list[dict], columns: list[str] | None = None, floats: str = "{:,.4g}") -> str:
    """A plain HTML table (escaped) of dict rows."""
    if not rows:
        return "<i>no rows</i>"
    columns = columns or list(dict.fromkeys(c for r in rows for c in r))

    def cell(value) -> str:
        if isinstance(value, float):
            return floats.format(value)
        return html.escape("" if value is None else str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table class='covertreex-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def error_html(message: str) -> str:
    return f"<span style='color:#b00020'>{html.escape(message)}</span>"
