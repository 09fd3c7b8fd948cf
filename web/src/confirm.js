// One modal question with a confirm and a cancel button; resolves true only
// on confirm (Escape and Cancel are no).
export function confirmAction(question, verb = 'Confirm') {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-text').textContent = question;
  const yes = document.getElementById('confirm-yes');
  const no = document.getElementById('confirm-no');
  yes.textContent = verb;
  return new Promise((resolve) => {
    const done = (answer) => {
      yes.removeEventListener('click', onYes);
      no.removeEventListener('click', onNo);
      dialog.removeEventListener('cancel', onNo);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onNo = () => done(false);
    yes.addEventListener('click', onYes);
    no.addEventListener('click', onNo);
    dialog.addEventListener('cancel', onNo);
    dialog.showModal();
  });
}
