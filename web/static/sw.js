// The app shell only: these files, cached for an offline start. Messages and API calls are never cached.
const Shell = "paseo-shell-v1";
const Files = ["/", "/app.js", "/app.css", "/manifest.webmanifest", "/icon.svg"];
self.addEventListener("install", (event) => event.waitUntil(caches.open(Shell).then((cache) => cache.addAll(Files))));
self.addEventListener("activate", (event) => event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== Shell).map((k) => caches.delete(k))))));
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !Files.includes(url.pathname)) return;
  // Network first, so a new build is picked up; the cache when offline.
  event.respondWith(fetch(event.request).then((response) => {
    // Only a good answer replaces what is cached (an error page must not become the offline app).
    if (response.ok) {
      const copy = response.clone();
      caches.open(Shell).then((cache) => cache.put(event.request, copy));
    }
    return response;
  }).catch(() => caches.match(event.request)));
});
