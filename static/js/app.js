/* tokenwarden front-end helpers: no dependencies, no eval, no inline handlers (CSP-safe). */
(function () {
  'use strict';

  // Every element matching `selector` inside root, root itself included.
  function within(root, selector) {
    var found = root && root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll(selector)) : [];
    if (root && root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  // Controls that need JS (e.g. copy buttons) are shipped with `hidden`.
  function revealJsOnly() {
    within(document, '.js-only[hidden]').forEach(function (el) { el.removeAttribute('hidden'); });
  }

  function announce(message) {
    var region = document.getElementById('live-region');
    if (!region) return;
    region.textContent = '';
    setTimeout(function () { region.textContent = message; }, 50); // re-announce repeats
  }

  // Fallback copy: select the element's text and use execCommand. On failure the text stays
  // selected so the user can press Ctrl+C themselves.
  function legacyCopy(source) {
    var selection = window.getSelection(), range = document.createRange(), ok = false;
    range.selectNodeContents(source);
    selection.removeAllRanges();
    selection.addRange(range);
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    if (ok) selection.removeAllRanges();
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }

  function setLabel(button, label) {
    if (button.dataset.copyLabel === undefined) button.dataset.copyLabel = button.textContent;
    clearTimeout(Number(button.dataset.copyTimer));
    button.textContent = label;
    button.dataset.copyTimer = String(setTimeout(function () { button.textContent = button.dataset.copyLabel; }, 2000));
  }

  // Copy-to-clipboard, delegated so buttons swapped in later by htmx work too.
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button[data-copy-target]');
    var source = button && document.getElementById(button.getAttribute('data-copy-target'));
    if (!source) return;
    event.preventDefault();
    var copied = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(source.textContent.trim()).catch(function () { return legacyCopy(source); })
      : legacyCopy(source);
    copied.then(function () {
      setLabel(button, 'Copied!');
      announce('Token copied to clipboard');
    }, function () {
      setLabel(button, 'Press Ctrl+C');
      announce('Could not copy automatically. The token is selected: press Control+C to copy it.');
    });
  });

  // A row's link that fetches a question or a form into its row: its Cancel ([data-cancel])
  // gives focus back to that link, as closing a dialog does. The link is found again by its
  // row and its path: the list is redrawn, and the way back in its query may differ.
  // One row asks at a time: opening a question or a form in a row puts any other row that
  // is asking back as it was (kept when it asked), so no two questions or edit forms (with
  // the same field ids) are open at once.
  var asker = null;
  var asking = {};
  function askerPath(link) { return link.getAttribute('href').split('?')[0]; }
  function putBack(id) {
    var open = document.getElementById(id), holder = document.createElement('tbody');
    holder.innerHTML = asking[id];
    delete asking[id];
    var row = holder.firstElementChild;
    if (!open || !row) return;
    open.replaceWith(row);
    if (window.htmx) window.htmx.process(row);
  }
  document.addEventListener('htmx:beforeRequest', function (event) {
    var elt = event.detail.elt, row = elt && elt.closest && elt.closest('tr[id]');
    if (!row || !elt.matches('a[hx-target="closest tr"]')) return;
    asker = { row: row.id, path: askerPath(elt) };
    putBackAllBut(row.id);
    within(document, 'details.confirm[open]').forEach(function (d) { d.open = false; });
    asking[row.id] = row.outerHTML;
  });
  function putBackAllBut(keep) {
    Object.keys(asking).forEach(function (id) {
      var open = document.getElementById(id);
      if (id !== keep && open && open.matches('tr.confirming, tr.editing')) putBack(id);
      else if (!open || !open.matches('tr.confirming, tr.editing')) delete asking[id];
    });
  }
  function refocusAsker(elt) {
    if (!asker || !elt || !elt.matches || !elt.matches('[data-cancel]')) return false;
    var wanted = asker;
    var link = within(document.getElementById(wanted.row), 'a[hx-target="closest tr"]')
      .filter(function (a) { return askerPath(a) === wanted.path; })[0];
    if (!link) return false;
    asker = null;
    link.focus();
    return true;
  }

  // A message that comes with an in-place change (out of band: htmx swaps those before
  // the request's own content) stays in view while the page is scrolled, until the next
  // change: focus stays with the list, where the user was (see the CSS).
  var arrivedFlash = null;
  // (The mark is the body's: htmx settles a swapped element's own attributes as sent.)
  // While it is stuck, the page's scroll padding keeps a focused control from under it.
  function flashArrived() {
    arrivedFlash = document.querySelector('#flash-area .flash');
    if (!arrivedFlash) return;
    document.body.classList.add('flash-arrived');
    var area = document.getElementById('flash-area');
    document.documentElement.style.scrollPaddingTop = Math.ceil(area.getBoundingClientRect().height + 16) + 'px';
  }
  document.addEventListener('htmx:beforeRequest', function () {
    oobSwapped = [];
    document.body.classList.remove('flash-arrived');
    document.documentElement.style.scrollPaddingTop = '';
    arrivedFlash = null;
  });
  // (The event is dispatched on the request's own target; its detail names the element
  // swapped out of band.)
  // Elements swapped out of band by the request under way (htmx swaps them before the
  // request's own content, and announces them only with this event): focus may belong in
  // one of them (a new secret).
  var oobSwapped = [];
  document.addEventListener('htmx:oobAfterSwap', function (event) {
    var swapped = event.detail && event.detail.target;
    if (swapped && swapped.closest && swapped.closest('#flash-area')) flashArrived();
    else if (swapped) oobSwapped.push(swapped);
  });

  // Where focus goes once a request's content is in: the first field refused; else what
  // the content is about (a secret shown once, a question, a form's heading:
  // [data-autofocus]); else the list redrawn ([data-autofocus="list"]), where the user
  // was; else the message that says what was done. A Cancel gives focus back to its
  // asker instead.
  function focusAfterSwap(swapped) {
    swapped = oobSwapped.concat(swapped);
    oobSwapped = [];
    if (swapped.some(function (el) { return el.closest && el.closest('#flash-area'); })) flashArrived();
    var flash = arrivedFlash && document.contains(arrivedFlash) ? arrivedFlash : null;
    arrivedFlash = null;
    var first = function (selector) {
      for (var i = 0; i < swapped.length; i++) {
        var found = within(swapped[i], selector)[0];
        if (found && document.contains(found)) return found;
      }
      return null;
    };
    var target = first('[aria-invalid="true"]') ||
      first('[data-autofocus]:not([data-autofocus="list"])') || first('[data-autofocus="list"]') || flash;
    if (!target) return;
    if (target.tabIndex < 0 && !target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus();
  }

  document.addEventListener('htmx:load', function (event) {
    revealJsOnly();
    addConfirmCancels(event.target);
  });
  // htmx announces each element a request swapped in, one after another (the ones out of
  // band among them): focus is decided once, when all of them are in.
  document.addEventListener('htmx:afterSwap', function (event) {
    revealJsOnly();
    var request = event.detail.requestConfig || {};
    request.swapped = request.swapped || [];
    request.swapped.push(event.target);
    if (request.swapped.length > 1) return;
    Promise.resolve().then(function () {
      if (!refocusAsker(request.elt)) focusAfterSwap(request.swapped);
    });
  });

  // details.confirm: a Cancel beside the answer (without JavaScript the question closes
  // with its summary, as it opened); one open at a time (`toggle` doesn't bubble, so
  // capture it); Escape or Cancel closes the open one and returns focus to its summary.
  function addConfirmCancels(root) {
    within(root, 'details.confirm form.form-actions').forEach(function (form) {
      if (form.querySelector('[data-close-confirm]')) return;
      var cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'btn btn-secondary';
      cancel.setAttribute('data-close-confirm', '');
      cancel.textContent = 'Cancel';
      form.appendChild(cancel);
    });
  }
  function closeConfirm(open) {
    open.open = false;
    if (open.querySelector('summary')) open.querySelector('summary').focus();
  }
  document.addEventListener('click', function (event) {
    var cancel = event.target.closest && event.target.closest('[data-close-confirm]');
    var open = cancel && cancel.closest('details.confirm');
    if (open) closeConfirm(open);
  });
  document.addEventListener('toggle', function (event) {
    var opened = event.target;
    if (!opened.matches || !opened.matches('details.confirm') || !opened.open) return;
    within(document, 'details.confirm[open]').forEach(function (d) { if (d !== opened) d.open = false; });
    putBackAllBut(null);
  }, true);
  // Escape in a question or form fetched into a row is its Cancel.
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    var active = document.activeElement;
    var inRow = (active && active.closest && active.closest('tr.confirming, tr.editing')) ||
      document.querySelector('tr.confirming, tr.editing');
    var rowCancel = inRow && inRow.querySelector('[data-cancel]');
    if (rowCancel) {
      event.preventDefault();
      rowCancel.click();
      return;
    }
    var open = (active && active.closest && active.closest('details.confirm[open]')) ||
      document.querySelector('details.confirm[open]');
    if (open) closeConfirm(open);
  });

  // On a phone an administrator's sections scroll sideways in one row: bring the current
  // one into view (the row alone; the page does not move), and mark which edges have more
  // behind them, for the fades.
  function showCurrentSection() {
    var row = document.querySelector('.main-nav ul');
    if (!row) return;
    var current = row.querySelector('[aria-current="page"]');
    if (current && row.scrollWidth > row.clientWidth) {
      row.scrollLeft = current.offsetLeft - row.offsetLeft - (row.clientWidth - current.offsetWidth) / 2;
    }
    // Which edges have more behind them: on scrolling, and again when the row's width
    // changes (a phone turned, a window zoomed), which need not scroll it.
    var mark = function () {
      row.classList.toggle('scrolled', row.scrollLeft > 0);
      row.classList.toggle('at-end', row.scrollLeft + row.clientWidth >= row.scrollWidth - 1);
    };
    mark();
    row.addEventListener('scroll', mark, { passive: true });
    window.addEventListener('resize', mark, { passive: true });
  }

  // A page that shows a secret once (after a plain post and its redirect, such as a token
  // regenerated on someone's behalf) opens with focus on it, as a swap in place does.
  // And a page sent back with a refused field (a form posted without htmx: setup, the
  // account's password, a new user) opens on the first such field, scrolled into view,
  // as a swap in place does; on a phone it may be a screen or two down.
  var refused = document.querySelector('main [aria-invalid="true"]');
  var shown = document.querySelector('.secret-panel[data-autofocus], .notice-danger[data-autofocus]');
  if (refused) refused.focus();
  else if (shown) shown.focus();

  // The expiry's choice and its date field go together: picking a date chooses "On a date
  // of my choice…", choosing anything else clears the date (the server refuses a date
  // beside another choice rather than drop it).
  document.addEventListener('change', function (event) {
    var el = event.target, form = el.form;
    if (!form || !el.name) return;
    var select = form.querySelector('select[name="expires_in"]');
    var date = form.querySelector('input[name="expires_on"]');
    if (!select || !date) return;
    if (el === date && date.value && select.querySelector('option[value="custom"]')) select.value = 'custom';
    else if (el === select && select.value !== 'custom') date.value = '';
  });

  // A secret whose token was deleted in place before it was copied opens nothing any more:
  // the panel says so instead of offering it for copying (every action on this page keeps
  // the row's id, so a row that is gone is a token that is gone).
  document.addEventListener('htmx:afterSettle', function () {
    var panel = document.querySelector('#secret-area .secret-panel[data-token-id]');
    if (!panel || !document.getElementById('token-workspace')) return;
    if (document.getElementById('token-' + panel.getAttribute('data-token-id'))) return;
    var gone = panel.querySelector('.secret-gone');
    if (!gone || !gone.hidden) return;
    Array.prototype.forEach.call(panel.querySelectorAll('.warning, .secret-row, .help'), function (el) {
      el.remove();
    });
    gone.hidden = false;
  });

  revealJsOnly();
  addConfirmCancels(document);
  showCurrentSection();
}());
