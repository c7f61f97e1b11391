// esbuild bundles an imported stylesheet (uPlot's) into app.css, beside app.js.
declare module "*.css";
