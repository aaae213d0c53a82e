// The new assisted-reading study page: show a field only for the layout or answer kind it
// belongs to (data-shown-when="name=value"). A hidden field is disabled too, so a value typed
// before switching is not sent (the server refuses a washout on a sequential study). Without
// this script every field shows and the server checks them all.

const form = document.querySelector("form[data-reading-new]");

function chosen(name) {
  const checked = form.querySelector(`[name="${name}"]:checked`);
  return checked ? checked.value : form.elements[name]?.value;
}

function update() {
  for (const wrapper of form.querySelectorAll("[data-shown-when]")) {
    const [name, value] = wrapper.dataset.shownWhen.split("=");
    const shown = chosen(name) === value;
    wrapper.hidden = !shown;
    for (const control of wrapper.querySelectorAll("input, select, textarea")) {
      control.disabled = !shown;
    }
  }
}

if (form) {
  form.addEventListener("change", update);
  update();
}
