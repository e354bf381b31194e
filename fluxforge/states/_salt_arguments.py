"""The argument names Salt 3008's state functions take, for the state compiler.

A state function here with ``STRICT_ARGUMENTS`` refuses an argument it does
not take, as a likely misspelling, unless Salt's state of the same name
takes it: then a formula written for Salt keeps compiling and the argument
is ignored with a warning. The names were read from the signatures of
``salt.states.file`` in Salt 3008.5. (Not a state module: the loader skips
files whose names start with ``_``.)
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SALT_FILE_ARGUMENTS: dict[str, frozenset[str]] = {
    "managed": _names(
        "allow_empty attrs backup check_cmd contents contents_delimiter contents_grains "
        "contents_newline contents_pillar context create defaults dir_mode encoding "
        "encoding_errors follow_symlinks gnupghome group ignore_comment_characters "
        "ignore_ordering ignore_whitespace keep_source keyring makedirs mode new_file_diff "
        "replace selinux show_changes sig_backend signature signed_by_all signed_by_any "
        "skip_verify source source_hash source_hash_name source_hash_sig template tmp_dir "
        "tmp_ext use_etag user verify_ssl win_deny_perms win_inheritance win_owner win_perms "
        "win_perms_reset"
    ),
    "directory": _names(
        "allow_symlink backupname children_only clean dir_mode exclude_pat file_mode "
        "follow_symlinks force group makedirs max_depth recurse require user win_deny_perms "
        "win_inheritance win_owner win_perms win_perms_reset"
    ),
    "symlink": _names(
        "atomic backupname disallow_copy_and_unlink follow_symlinks force group "
        "inherit_user_and_group makedirs mode target user win_deny_perms win_inheritance "
        "win_owner win_perms"
    ),
    "touch": frozenset(["atime", "makedirs", "mtime"]),
    "append": _names(
        "context defaults ignore_whitespace makedirs show_changes source source_hash "
        "source_hashes sources template text"
    ),
    "replace": _names(
        "append_if_not_found backslash_literal backup bufsize count encoding flags "
        "ignore_if_missing not_found_content pattern prepend_if_not_found repl show_changes"
    ),
    "line": _names(
        "after backup before content create file_mode group indent location match mode quiet "
        "show_changes user"
    ),
    "recurse": _names(
        "backup clean context defaults dir_mode exclude_pat file_mode force_symlinks group "
        "include_empty include_pat keep_source keep_symlinks maxdepth merge replace require "
        "source sym_mode template user win_deny_perms win_inheritance win_owner win_perms"
    ),
}
