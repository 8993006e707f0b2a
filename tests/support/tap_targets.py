"""Tap targets: every control a finger may need is at least 44 by 44 CSS pixels (WCAG 2.5.5,
and the size Apple and Android give for a fingertip).

`too_small(page)` measures every interactive element the page shows now: links, buttons,
form fields, disclosure summaries, focusable elements and Leaflet's markers. A checkbox or
radio button is tapped through the label around it, so the label is what is measured. What
is not laid out (hidden, folded away) has no size and is skipped: open it, then measure again.
"""

MIN_PX = 44

_MEASURE = """min => {
  const interactive = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
    + '[role=button], [tabindex]:not([tabindex="-1"]), .leaflet-marker-icon';
  const small = [];
  for (const el of document.querySelectorAll(interactive)) {
    if (getComputedStyle(el).visibility === 'hidden') continue;
    let box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;  // not shown now
    const label = el.closest('label');
    if (label && (el.type === 'checkbox' || el.type === 'radio')) {
      box = label.getBoundingClientRect();
    }
    // half a pixel of rounding: layouts land on fractions
    if (box.width < min - 0.5 || box.height < min - 0.5) {
      const name = (el.getAttribute('aria-label') || el.textContent || el.outerHTML).trim();
      small.push(`${el.tagName.toLowerCase()}.${el.className} "${name.slice(0, 40)}" `
        + `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""


def too_small(page) -> list[str]:
    """The interactive elements shown now that are smaller than 44 by 44 px, one line each."""
    return page.evaluate(_MEASURE, MIN_PX)


def assert_big_enough(page) -> None:
    """Fail with every too-small target named, one a line."""
    small = too_small(page)
    assert not small, f"{len(small)} tap targets under {MIN_PX} px:\n" + "\n".join(small)
