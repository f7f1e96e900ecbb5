// The widget docs page: lists the widgets' events as they arrive, and gives every snippet a
// Copy button. (A separate module, so the page needs no inline script.)

const log = document.getElementById("events");
for (const type of ["kiln-load", "kiln-sample", "kiln-error"]) {
  document.addEventListener(type, ({ target, detail }) => {
    const what = type === "kiln-error" ? detail.message : type === "kiln-load" ? `on ${detail.backend}` : "";
    const item = document.createElement("li");
    item.textContent = `${type} from <${target.localName} model="${target.model}"> ${what}`;
    log.append(item);
  });
}

for (const snippet of document.querySelectorAll("pre.snippet")) {
  const copy = document.createElement("button");
  copy.type = "button";
  copy.textContent = "Copy";
  copy.addEventListener("click", async () => {
    await navigator.clipboard.writeText(snippet.textContent);
    copy.textContent = "Copied";
  });
  snippet.after(copy);
}
