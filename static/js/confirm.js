// Irreversible admin actions ask first: a form marked data-confirm is sent only once the
// dialog's confirm button is pressed, with confirm=yes. Without script the server asks on a
// page of its own (views.studies.confirmation._ask_first), so nothing irreversible happens unasked.
// The study dashboard's entry module.
var dialog = document.getElementById("confirm-dialog");
var asking = null;

function ask(event) {
  var form = event.target;
  if (!form.matches("form[data-confirm]") || form.elements.confirm.value === "yes") return;
  event.preventDefault();
  asking = form;
  // The question is server-rendered (escaped) markup in the form's <template>: cloned, never
  // parsed from a string.
  dialog.querySelector("[data-confirm-body]").replaceChildren(
    form.querySelector("template").content.cloneNode(true)
  );
  dialog.querySelector("[data-confirm-go]").textContent =
    form.querySelector("button[type=submit]").textContent.trim();
  dialog.returnValue = "";
  dialog.showModal();
}

function answered() {
  var form = asking;
  asking = null;
  if (!form || dialog.returnValue !== "go") return;  // Cancel, Esc: nothing is sent
  form.elements.confirm.value = "yes";
  form.requestSubmit();
  // The form's data is taken as it is submitted: reset it, so a page restored by Back asks again.
  form.elements.confirm.value = "";
}

if (dialog) {
  document.addEventListener("submit", ask);
  dialog.addEventListener("close", answered);
}
