import { StrictMode, startTransition } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './index.css';

const root = document.getElementById('root');
if (root === null) throw new Error('#root is missing from index.html');
const app = createRoot(root);
// The first render as a transition: React renders the shell in slices of a few
// milliseconds (one long task otherwise), then commits it at once.
startTransition(() => {
  app.render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
});
