import { render } from "preact";
import { App } from "./app";

render(<App />, document.getElementById("app")!);

// The app shell is cached for offline start; messages never are (the worker caches nothing else).
if ("serviceWorker" in navigator && location.protocol === "https:") navigator.serviceWorker.register("/sw.js").catch(() => {});
