// Images: a thumbnail opens the image in a dialog that zooms (buttons, + - 0, the wheel)
// and pans (scrolling, or dragging on a tablet); pinch-zoom works there too.

var zoom = document.getElementById("zoom");
var zoomLevels = [0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8];
var zoomAt = 2;
function zoomTo(index) {
  zoomAt = Math.max(0, Math.min(zoomLevels.length - 1, index));
  var image = zoom.querySelector("img");
  var fit = Math.min(
    (window.innerWidth * 0.9) / (image.naturalWidth || 1),
    (window.innerHeight * 0.8) / (image.naturalHeight || 1)
  );
  var scale = fit * zoomLevels[zoomAt];
  image.style.width = Math.round((image.naturalWidth || 1) * scale) + "px";
  // As the page's language writes a percentage: "150%", "150 %".
  var percent = new Intl.NumberFormat(document.documentElement.lang || "en", { style: "percent" });
  zoom.querySelector("[data-zoom-level]").textContent = percent.format(zoomLevels[zoomAt]);
}
function openZoom(url) {
  var image = zoom.querySelector("img");
  image.onload = function () { zoomTo(2); };
  image.src = url;
  zoom.showModal();
  if (image.complete && image.naturalWidth) zoomTo(2);
}

function clicked(event) {
  var thumb = event.target.closest && event.target.closest("[data-zoom]");
  if (thumb) { openZoom(thumb.dataset.zoom); return; }
  var step = event.target.closest && event.target.closest("[data-zoom-step]");
  if (step) {
    var by = Number(step.dataset.zoomStep);
    zoomTo(by === 0 ? 2 : zoomAt + by);
  } else if (event.target.closest && event.target.closest("[data-zoom-close]")) {
    zoom.close();
  }
}

export function startImages() {
  if (!zoom) return;  // an item without images
  document.addEventListener("click", clicked);
  zoom.addEventListener("wheel", function (event) {
    if (!event.ctrlKey && !event.altKey) return;  // plain wheel scrolls (pans)
    event.preventDefault();
    zoomTo(zoomAt + (event.deltaY < 0 ? 1 : -1));
  }, { passive: false });
  document.addEventListener("keydown", function (event) {
    if (!zoom.open) return;
    if (event.key === "+" || event.key === "=") zoomTo(zoomAt + 1);
    else if (event.key === "-") zoomTo(zoomAt - 1);
    else if (event.key === "0") zoomTo(2);
    else return;  // Escape closes the dialog by itself
    event.preventDefault();
  });
}
