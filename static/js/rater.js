// The rater page's entry module: it starts each part of the page, in this order. Listeners on
// the same event run in the order they are added: saving keeps each change (queue.js) before
// the answer controls adjust it (answers.js), and the zoomed image takes its keys before the
// page's shortcuts see them. Each part is a module of its own in rater/; nothing is shared
// through `window`. See docs/architecture.md, "Unsaved answers in the browser".
import { startHelp } from "./keys.js";
import { startAnswers } from "./rater/answers.js";
import { startConflictChoice } from "./rater/conflicts.js";
import { startCorrections } from "./rater/corrections.js";
import { startElapsed } from "./rater/elapsed.js";
import { startFacts } from "./rater/facts.js";
import { startFlush } from "./rater/flush.js";
import { startImages } from "./rater/images.js";
import { showPendingNotice } from "./rater/notice.js";
import { startOtherTabs } from "./rater/other-tabs.js";
import { saveAllPending, startQueue, startRetries } from "./rater/queue.js";
import { startRanked } from "./rater/ranked.js";
import { startRestore } from "./rater/restore.js";
import { isSignedOut, onSignInChange, startSignIn } from "./rater/session.js";
import { startShortcuts } from "./rater/shortcuts.js";
import { startSpans } from "./rater/spans.js";
import { startSubmit } from "./rater/submit.js";

// Signed in again: what waits is sent; either way the notice says where the answers stand.
onSignInChange(function () {
  if (!isSignedOut()) saveAllPending();
  showPendingNotice();
});

startQueue();
startSignIn();
startOtherTabs();
startFlush();
startRetries();
startConflictChoice();
startElapsed();
startSubmit();
startRestore();
startAnswers();
startFacts();
startSpans();
startCorrections();
startRanked();
startImages();
startHelp();
startShortcuts();
