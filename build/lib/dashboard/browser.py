"""What the console asks of the browser beyond Streamlit's own widgets: touch targets of at least 44 px
for every control (WCAG 2.5.5's size, Apple's and Google's minimum), the sidebar folded away after a
choice on a phone (it covers the page there), and a chosen session's drawings scrolled into view.

Streamlit has no setting for any of these; the CSS and the script below are ours, short, and use only
Streamlit's data-testid attributes and widget keys (st-key-*), so they survive a restyle or fail soft:
nothing here changes what a page says."""

from __future__ import annotations

import json

import streamlit as st

TOUCH_PX = 44
# Streamlit folds the sidebar away by itself below this width (its "mobile" breakpoint).
PHONE_MAX_WIDTH_PX = 768

STYLE = f"""
<style>
/* Every control at least {TOUCH_PX} px high (and wide, when it is an icon). */
.stApp button, .stApp [role="button"], .stApp summary {{ min-height: {TOUCH_PX}px; }}
.stApp button {{ min-width: {TOUCH_PX}px; }}
.stApp [data-testid="stSelectbox"] [role="group"], .stApp [data-testid="stTextInputRootElement"],
.stApp [data-testid="stNumberInputContainer"], .stApp [data-testid="stDateInputField"] {{
    min-height: {TOUCH_PX}px;
}}
.stApp [data-testid="stTextInputRootElement"] input, .stApp [data-testid="stNumberInputContainer"] input {{
    min-height: {TOUCH_PX - 2}px;  /* inside the field's 1 px border */
}}
.stApp [data-testid="stSidebarNavLink"] {{ min-height: {TOUCH_PX}px; align-items: center; }}
.stApp [data-testid="stNumberInputContainer"] button {{ min-width: {TOUCH_PX}px; }}
/* The help "?" after a label: a {TOUCH_PX} px target around the 16 px icon, without moving the label.
   (Only there: a button with help text has the same hover target around it.) */
.stApp [data-testid="stTooltipIcon"] [data-testid="stTooltipHoverTarget"] {{
    min-width: {TOUCH_PX}px; min-height: {TOUCH_PX}px; margin: -14px -12px;
    display: inline-flex; align-items: center; justify-content: center;
}}
/* Folding and unfolding the sidebar, the app menu, a table's tools. */
[data-testid="stSidebarCollapseButton"] button, [data-testid="stExpandSidebarButton"],
[data-testid="stMainMenu"] button, [data-testid="stElementToolbarButton"] button {{
    min-width: {TOUCH_PX}px; min-height: {TOUCH_PX}px;
}}
/* Captions in the text's own colour, a little faded: Streamlit's grey reads at 3.9:1 on white, under
   the 4.5:1 that small text needs (axe-core's color-contrast rule); this is 7:1, in either theme. */
.stApp [data-testid="stCaptionContainer"], .stApp [data-testid="stCaptionContainer"] p {{ color: inherit; }}
.stApp [data-testid="stCaptionContainer"] {{ opacity: 0.8; }}
/* The chosen option of a segmented control: Streamlit's red on its pale red reads at 4.47:1. */
@media (prefers-color-scheme: light) {{
    .stApp [data-testid="stButtonGroup"] button[data-selected="true"] p {{ color: #a8283a; }}
}}
/* Headings link to themselves by a 16 px icon nobody here needs. */
.stApp [data-testid="stHeaderActionElements"] {{ display: none; }}
/* What is scrolled into view stops below Streamlit's fixed header bar, not under it. */
[class*="st-key-"][class*="drawings"] {{ scroll-margin-top: 4.5rem; }}
/* The holder of the console's script takes no room. */
.st-key-console_behaviour {{ display: none; }}
</style>
"""

# Installed once per page load (the flag survives Streamlit's reruns, which keep the document).
SCRIPT = f"""
<script>
(() => {{
  if (window.__consoleBehaviour) return;
  window.__consoleBehaviour = true;
  const phone = () => window.innerWidth < {PHONE_MAX_WIDTH_PX};
  const sidebar = () => document.querySelector('[data-testid="stSidebar"]');
  const fold = () => {{
    const open = sidebar() && sidebar().getAttribute('aria-expanded') !== 'false';
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (phone() && open && button) button.click();
  }};
  // A choice in the sidebar's select boxes: its options open outside the sidebar, so remember where
  // the box was opened from.
  let choosingInSidebar = false;
  const sidebarSelect = '[data-testid="stSidebar"] [data-testid="stSelectbox"]';
  document.addEventListener('click', (event) => {{
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest('[data-testid="stSidebarNav"] a')) {{ setTimeout(fold, 50); return; }}
    if (target.closest(sidebarSelect)) {{ choosingInSidebar = true; return; }}
    if (choosingInSidebar && target.closest('[role="option"]')) {{
      choosingInSidebar = false;
      setTimeout(fold, 250);
      return;
    }}
    choosingInSidebar = false;
  }}, true);
  document.addEventListener('keydown', (event) => {{
    const target = event.target instanceof Element ? event.target : null;
    if (event.key === 'Enter' && target && target.closest(sidebarSelect) &&
        target.getAttribute('aria-expanded') === 'true') setTimeout(fold, 250);
  }}, true);
}})();
</script>
"""


def install() -> None:
    """The console's style and behaviour, on every page (call once per script run)."""
    st.html(STYLE)  # style only: Streamlit puts it where it takes no room
    with st.container(key="console_behaviour"):
        st.html(SCRIPT, unsafe_allow_javascript=True)


def _scrolled_key(container_key: str) -> str:
    return f"{container_key}__scrolled_to"


def forget_scroll(container_key: str) -> None:
    """The next item shown in the container is scrolled to, even the one shown last (a new search)."""
    st.session_state.pop(_scrolled_key(container_key), None)


def scroll_into_view_once(container_key: str, item: object) -> None:
    """Scroll the container with this key into view, once for each new item shown in it (a session
    clicked or pasted), not on every refresh."""
    seen, count = _scrolled_key(container_key), f"{container_key}__scrolls"
    if st.session_state.get(seen) == item:
        return
    st.session_state[seen] = item
    st.session_state[count] = st.session_state.get(count, 0) + 1
    selector = json.dumps(f".st-key-{container_key}")
    # A new number makes it new content, so Streamlit runs it again for the next item. (Never the item
    # itself: it may be text a client or a paste made, and this is a script.)
    st.html(
        # Not a smooth scroll: Chrome gives it up when the images, loading meanwhile, move the page.
        f"""<script>/* {int(st.session_state[count])} */
        setTimeout(() => document.querySelector({selector})
            ?.scrollIntoView({{behavior: 'instant', block: 'start'}}), 200);</script>""",
        unsafe_allow_javascript=True,
    )
