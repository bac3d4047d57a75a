;;; oomlint-eglot.el --- oomlint language server with Eglot  -*- lexical-binding: t; -*-

;; Put this in your init file (Emacs 29+ ships Eglot; older versions: M-x package-install eglot).
;; `oomlint' must be on `exec-path' (PATH), or replace "oomlint" with an absolute path.
;; Eglot runs one server per major mode, so this makes oomlint the Python server of the buffer;
;; lsp-mode can run it beside another one (register it as an add-on client).

(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode)
                 . ("oomlint" "server"
                    ;; Sent as initializationOptions; omit keys to use [tool.oomlint].
                    :initializationOptions (:targetGpu "ampere")))))

;; Settings sent later with workspace/didChangeConfiguration (e.g. from .dir-locals.el):
;;   ((python-mode . ((eglot-workspace-configuration
;;                     . (:oomlint (:ignore ["OOM203"] :targetGpu "volta"))))))

;; Start it automatically for Python buffers.
(add-hook 'python-mode-hook #'eglot-ensure)
(add-hook 'python-ts-mode-hook #'eglot-ensure)

;; Apply every safe fix in the buffer: M-x oomlint-fix-all
(defun oomlint-fix-all ()
  "Apply oomlint's source.fixAll.oomlint code action to the current buffer."
  (interactive)
  (eglot-code-actions (point-min) (point-max) "source.fixAll.oomlint" t))

(provide 'oomlint-eglot)
;;; oomlint-eglot.el ends here
